// User ID validation (historical grammar) and domains, as the auth rules use them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { domainOf, isValidServerName, isValidUserId } from '../../src/auth/user-id.js';

test('valid user IDs, including historical localparts', () => {
  for (const id of ['@alice:example.org', '@a:b', '@x:1.2.3.4', '@x:1.2.3.4:8448', '@x:[::1]', '@x:[2001:db8::1]:443', '@Alice!:example.org', '@:example.org', '@é:example.org', '@a b:example.org', '@x:example.org:1', '@x:a.1.2.300', '@x:1.2.3', '@x:255.255.255.255:80']) {
    assert.ok(isValidUserId(id), id);
  }
});

test('invalid user IDs', () => {
  const bad: unknown[] = ['alice:example.org', '@alice', '@alice:', '@alice:exa_mple.org', '@alice:example.org:port', '@alice:example.org:123456', '@a\u0000b:x.org', '@a\ud800:x.org', '@x:[::1', '@x:[zz]', '@x:1.2.3.400', '@x:' + 'a'.repeat(260), 5, null, undefined];
  for (const id of bad) assert.not.ok(isValidUserId(id), JSON.stringify(id));
});

test('the 255-byte limit counts UTF-8 bytes', () => {
  const host = 'h.test';
  const fits = '@' + 'a'.repeat(255 - 1 - 1 - host.length) + ':' + host;
  assert.is(Buffer.byteLength(fits), 255);
  assert.ok(isValidUserId(fits));
  assert.not.ok(isValidUserId('@é' + fits.slice(2)), '256 bytes with a two-byte character');
});

test('server names', () => {
  assert.ok(isValidServerName('matrix.org'));
  assert.ok(isValidServerName('matrix.org:8448'));
  assert.not.ok(isValidServerName(''));
  assert.not.ok(isValidServerName('matrix.org:'));
  assert.not.ok(isValidServerName('[::1]x'));
});

test('domainOf takes everything after the first colon', () => {
  assert.is(domainOf('@a:b.test'), 'b.test');
  assert.is(domainOf('$e:b.test:8448'), 'b.test:8448');
  assert.is(domainOf('!r:[::1]:8448'), '[::1]:8448');
  assert.is(domainOf('$opaquehash'), undefined);
});

test.run();
