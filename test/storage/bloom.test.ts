// StringFilter: "certainly absent" or "maybe present" for strings, growing as strings are added.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StringFilter } from '../../storage/bloom.js';

const id = (i: number) => `$${i.toString(36).padStart(8, '0')}abcdefghijklmnopqrstuvwxyzABCDEFG:ex.org`;

test('every added string is reported, including past the first size (growth)', () => {
  const f = new StringFilter(1000);
  for (let i = 0; i < 20_000; i++) f.add(id(i));
  assert.is(f.size, 20_000);
  for (let i = 0; i < 20_000; i++) assert.ok(f.mightHave(id(i)), `lost ${id(i)}`);
  assert.ok(f.bytes > 20_000 / 8, 'it grew');
});

test('strings never added are mostly reported absent (about 1% false positives at 10 bits per string)', () => {
  const f = new StringFilter(50_000);
  for (let i = 0; i < 50_000; i++) f.add(id(i));
  let fp = 0;
  const probes = 50_000;
  for (let i = 0; i < probes; i++) if (f.mightHave(id(1_000_000 + i))) fp++;
  assert.ok(fp / probes < 0.03, `false positive rate ${(fp / probes).toFixed(4)}`);
  // similar strings that differ in one character are told apart
  assert.not.ok(new StringFilter().mightHave('$x'));
  const g = new StringFilter();
  g.add('$abc');
  assert.ok(g.mightHave('$abc'));
  assert.not.ok(g.mightHave('$abd') && g.mightHave('$abe') && g.mightHave('$abf'));
});

test('non-ASCII strings hash by their code units', () => {
  const f = new StringFilter();
  f.add('$é😀:ex.org');
  assert.ok(f.mightHave('$é😀:ex.org'));
});

test.run();
