// Identifier grammars: server names, user IDs (current and historical),
// room IDs (v1-v11 and v12), event IDs (v1/v2, v3, v4+), 255-byte limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roomVersion } from '../../src/matrix/room-versions.js';
import {
  isValidServerName,
  serverNameProblem,
  isValidIPv6,
  isValidIPv4,
  isValidUserId,
  userIdProblem,
  isValidRoomId,
  roomIdProblem,
  isValidEventId,
  eventIdProblem,
  serverNameOf,
  exceedsBytes,
} from '../../src/matrix/ids.js';

test('server names: spec examples are valid', () => {
  for (const s of ['matrix.org', 'matrix.org:8888', '1.2.3.4', '1.2.3.4:1234', '[1234:5678::abcd]', '[1234:5678::abcd]:5678', 'localhost', 'a-b.c', 'MATRIX.ORG']) {
    assert.ok(isValidServerName(s), s);
  }
});
test('server names: invalid ones with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['exa mple.org', /host/],
    ['example.org:', /port/],
    ['example.org:123456', /port/],
    ['example.org:80a', /port/],
    ['ex_ample.org', /host/],
    ['1.2.3.256', /IPv4/],
    ['[1234:5678::abcd', /unterminated/],
    ['[1234:5678::abcd]x', /junk/],
    ['[12345::]', /IPv6/],
    ['[::1::2]', /IPv6/],
    ['[1:2:3:4:5:6:7:8:9]', /IPv6/],
    ['ex%ample.org', /host/],
    ['a'.repeat(256), /host/],
  ];
  for (const [s, why] of cases) {
    const p = serverNameProblem(s);
    assert.ok(p, `${JSON.stringify(s)} should be invalid`);
    assert.match(p!, why, s);
  }
});
test('IPv6 literal forms (RFC 3513 2.2)', () => {
  for (const s of ['::', '::1', '1::', '1:2:3:4:5:6:7:8', 'FEDC:BA98:7654:3210:FEDC:BA98:7654:3210', '1080::8:800:200C:417A', '::13.1.68.3', '::FFFF:129.144.52.38', '1:2:3:4:5:6:1.2.3.4', '1::1.2.3.4']) {
    assert.ok(isValidIPv6(s), s);
  }
  for (const s of ['', ':', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', ':1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.256', '1.2.3.4']) {
    assert.not.ok(isValidIPv6(s), s);
  }
  assert.ok(isValidIPv4('255.255.255.255'));
  assert.not.ok(isValidIPv4('256.1.1.1'));
  assert.not.ok(isValidIPv4('1.1.1'));
});

test('user IDs: current grammar', () => {
  const strict = { historical: false };
  for (const id of ['@alice:example.org', '@a.b_c=d-e/f+g:example.org:8448', '@0:[::1]', '@x:1.2.3.4']) assert.ok(isValidUserId(id, strict), id);
  for (const id of ['@Alice:example.org', '@:example.org', '@al ice:example.org', '@alice', 'alice:example.org', '@alice:', '@alice:ex ample']) {
    assert.not.ok(isValidUserId(id, strict), id);
  }
});
test('user IDs: historical localparts accepted when reading events', () => {
  for (const id of ['@Alice:example.org', '@:example.org', '@al ice:example.org', '@日本:example.org', '@\u0001ctl:example.org', '@a#b:example.org']) {
    assert.ok(isValidUserId(id), id);
  }
  assert.match(userIdProblem('@a\u0000b:example.org')!, /NUL/);
  assert.match(userIdProblem('@a\ud800b:example.org')!, /surrogate/);
  assert.match(userIdProblem('alice:example.org')!, /@/);
  assert.match(userIdProblem('@alice')!, /server/);
  assert.match(userIdProblem('@alice:bad_host')!, /host/);
});
test('user IDs: 255-byte limit counts UTF-8 bytes', () => {
  const server = ':example.org';
  const ok = '@' + 'a'.repeat(255 - 1 - server.length) + server;
  assert.is(Buffer.byteLength(ok), 255);
  assert.ok(isValidUserId(ok));
  assert.match(userIdProblem('@' + 'a'.repeat(256 - 1 - server.length) + server)!, /255/);
  // 3-byte characters: 85 of them plus the rest exceeds 255 bytes though under 255 UTF-16 units
  const wide = '@' + '日'.repeat(82) + server;
  assert.ok(wide.length < 255 && Buffer.byteLength(wide) > 255);
  assert.match(userIdProblem(wide)!, /255/);
});
test('serverNameOf splits at the first colon', () => {
  assert.is(serverNameOf('@a:example.org:8448'), 'example.org:8448');
  assert.is(serverNameOf('@a:[::1]:8448'), '[::1]:8448');
  assert.is(serverNameOf('$abc'), undefined);
});

const v1 = roomVersion('1');
const v3 = roomVersion('3');
const v4 = roomVersion('4');
const v11 = roomVersion('11');
const v12 = roomVersion('12');
const HASH43 = 'RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438';

test('room IDs: v1-v11 need a server; v12 is a hash', () => {
  assert.ok(isValidRoomId('!abc:example.org', v11));
  assert.ok(isValidRoomId('!abc:example.org', v1));
  assert.ok(isValidRoomId('!Ab\u00e9:example.org:8448', v11));
  assert.match(roomIdProblem('!abc', v11)!, /server/);
  assert.match(roomIdProblem('abc:example.org', v11)!, /!/);
  assert.match(roomIdProblem('!a\u0000b:example.org', v11)!, /NUL/);
  assert.ok(isValidRoomId('!' + HASH43, v12));
  assert.not.ok(isValidRoomId('!abc:example.org', v12));
  assert.not.ok(isValidRoomId('!' + HASH43.slice(1), v12), '42 characters');
  assert.not.ok(isValidRoomId('!' + HASH43.replace('_', '/'), v12), 'standard alphabet');
  // without a version, either form
  assert.ok(isValidRoomId('!' + HASH43));
  assert.ok(isValidRoomId('!abc:example.org'));
  assert.match(roomIdProblem('!' + 'a'.repeat(250) + ':example.org', v11)!, /255/);
});

test('event IDs: v1/v2 $opaque:server; v3 standard base64; v4+ URL-safe', () => {
  assert.ok(isValidEventId('$yvN1b43rlmcOs5fY:localhost', v1));
  assert.not.ok(isValidEventId('$yvN1b43rlmcOs5fY', v1));
  assert.not.ok(isValidEventId('yvN1b43rlmcOs5fY:localhost', v1));
  const std = '$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438';
  const url = '$' + HASH43;
  assert.ok(isValidEventId(std, v3));
  assert.not.ok(isValidEventId(url, v3), 'URL-safe alphabet is not v3');
  assert.ok(isValidEventId(url, v4));
  assert.ok(isValidEventId(url, v12));
  assert.not.ok(isValidEventId(std, v4), 'standard alphabet is not v4');
  assert.not.ok(isValidEventId('$abc:example.org', v4));
  assert.not.ok(isValidEventId(url + 'A', v4));
  assert.not.ok(isValidEventId(url.slice(0, -1), v4));
  assert.match(eventIdProblem('abc', v4)!, /\$/);
  // any version
  assert.ok(isValidEventId(std));
  assert.ok(isValidEventId(url));
  assert.ok(isValidEventId('$a:b'));
  assert.match(eventIdProblem('$' + 'a'.repeat(250) + ':example.org', v1)!, /255/);
});

test('exceedsBytes', () => {
  assert.not.ok(exceedsBytes('a'.repeat(255)));
  assert.ok(exceedsBytes('a'.repeat(256)));
  assert.not.ok(exceedsBytes('é'.repeat(127)));
  assert.ok(exceedsBytes('é'.repeat(128)));
  assert.ok(exceedsBytes('\u{1F408}'.repeat(64)));
  assert.not.ok(exceedsBytes('\u{1F408}'.repeat(63)));
});

test.run();
