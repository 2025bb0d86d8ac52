// The strict JSON reader: invalid UTF-8, lone surrogates, duplicate keys,
// non-canonical numbers, nesting, and agreement with JSON.parse otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseStrictJson, scanJson, StrictJsonError, type StrictJsonReason } from '../../src/matrix/strict-json.js';

function refusal(f: () => unknown): StrictJsonError {
  try {
    f();
  } catch (e) {
    assert.instance(e, StrictJsonError);
    return e as StrictJsonError;
  }
  assert.unreachable('expected a StrictJsonError');
  throw new Error('unreachable');
}
function refuses(input: string | Uint8Array, reason: StrictJsonReason, path?: string, opts = {}): void {
  const e = refusal(() => parseStrictJson(input, opts));
  assert.is(e.reason, reason);
  if (path !== undefined) assert.is(e.path, path);
}

test('valid JSON parses as JSON.parse does', () => {
  const samples = ['{}', '[]', '"x"', '1', 'null', '{"a":[1,2,{"b":"c\\"d"}],"e":true,"f":null,"g":-5}', ' { "a" : "b\\\\" } ', '{"k":"\\u00e9\\n\\ud83d\\ude00"}'];
  for (const s of samples) {
    assert.equal(parseStrictJson(s), JSON.parse(s), s);
    assert.equal(parseStrictJson(Buffer.from(s)), JSON.parse(s), s);
  }
});
test('syntax errors: M_NOT_JSON', () => {
  for (const s of ['', '{', '{"a":}', "{'a':1}", '[1,]', '{"a":1}x', '\ufeff{}']) {
    const e = refusal(() => parseStrictJson(s));
    assert.is(e.reason, 'json_syntax', s);
    assert.is(e.code, 'M_NOT_JSON');
  }
});
test('invalid UTF-8 bytes: M_NOT_JSON (JSON.parse on a decoded Buffer would hide them)', () => {
  const bad = [
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), // {"a":"\xff"}
    Buffer.from([0x22, 0xc3, 0x22]), // truncated 2-byte sequence
    Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), // UTF-8 encoded surrogate
    Buffer.from([0x22, 0xc0, 0xaf, 0x22]), // overlong
  ];
  for (const b of bad) {
    const e = refusal(() => parseStrictJson(b));
    assert.is(e.reason, 'json_invalid_utf8');
    assert.is(e.code, 'M_NOT_JSON');
  }
  assert.is(Buffer.from([0x22, 0xff, 0x22]).toString('utf8'), '"\ufffd"', 'what Buffer decoding alone would do');
  assert.is(parseStrictJson(Buffer.from('"日本"')), '日本');
});
test('a Buffer slice (byteOffset) is read correctly', () => {
  const big = Buffer.from('xxxx{"a":1}yyyy');
  assert.equal(parseStrictJson(big.subarray(4, 11)), { a: 1 });
});
test('lone surrogates: escaped or raw', () => {
  refuses('"\\ud800"', 'json_lone_surrogate', '');
  refuses('{"a":["x","\\udc00"]}', 'json_lone_surrogate', 'a[1]');
  refuses('{"\\ud800x":1}', 'json_lone_surrogate');
  refuses('"\\ud800\\u0041"', 'json_lone_surrogate');
  refuses('"\ud800"', 'json_lone_surrogate'); // raw in text input
  assert.is(parseStrictJson('"\\ud83d\\ude00"'), '\u{1F600}');
  assert.is(parseStrictJson('"\\\\ud800"'), '\\ud800', 'an escaped backslash is not an escape');
  assert.is(refusal(() => parseStrictJson('"\\ud800"')).code, 'M_BAD_JSON');
});
test('duplicate keys are refused with their path', () => {
  refuses('{"a":1,"a":2}', 'json_duplicate_key', 'a');
  refuses('{"a":{"b":1,"c":{"d":1,"d":1}}}', 'json_duplicate_key', 'a.c.d');
  refuses('[{},{"x":1,"x":1}]', 'json_duplicate_key', '[1].x');
  refuses('{"a b":{"k":1,"k":2}}', 'json_duplicate_key', '["a b"].k');
  refuses('{"\\u0061":1,"a":2}', 'json_duplicate_key', 'a'); // same key, spelled differently
  refuses('{"__proto__":1,"__proto__":2}', 'json_duplicate_key');
  assert.is(refusal(() => parseStrictJson('{"a":1,"a":2}')).code, 'M_BAD_JSON');
  // allowed on request: the last wins, as in JSON.parse
  assert.equal(parseStrictJson('{"a":1,"a":2}', { allowDuplicateKeys: true }), { a: 2 });
  // the same key in different objects is fine; colons inside strings do not count
  assert.equal(parseStrictJson('{"a":{"a":1},"b":{"a":"x:y:z"},"c":[{"a":1},{"a":2}]}'), { a: { a: 1 }, b: { a: 'x:y:z' }, c: [{ a: 1 }, { a: 2 }] });
  assert.equal(parseStrictJson('{"a\\"b:c":1,"a":"\\":"}'), { 'a"b:c': 1, a: '":' });
});
test('paths are found in pretty-printed text too', () => {
  refuses('{\n  "a" : {\n    "b" : 1 ,\n    "b" : 2\n  }\n}', 'json_duplicate_key', 'a.b');
  refuses('[ 1 , { "x" : [ 0 , 2.0 ] } ]', 'json_bad_number', '[1].x[1]', { canonicalNumbers: true });
  refuses('{ "t" : true , "f" : false , "n" : null , "v" : 1e3 }', 'json_bad_number', 'v', { canonicalNumbers: true });
});
test('a duplicate hidden among integer-like keys is still found', () => {
  refuses('{"b":{"2":1},"1":{"x":1,"x":2}}', 'json_duplicate_key', '["1"].x');
});
test('scanJson reports instead of throwing', () => {
  const r = scanJson('{"a":1,"a":2,"b":1.5}');
  assert.is(r.duplicateKeyPath, 'a');
  assert.is(r.nonCanonicalNumberPath, 'b');
  assert.equal(r.value, { a: 2, b: 1.5 });
  const ok = scanJson('{"a":1}');
  assert.is(ok.duplicateKeyPath, undefined);
  assert.is(ok.nonCanonicalNumberPath, undefined);
});
test('numbers: fraction, exponent, -0, out of range (only with canonicalNumbers)', () => {
  const strict = { canonicalNumbers: true };
  for (const [s, path] of [
    ['{"a":1e5}', 'a'],
    ['{"a":1E5}', 'a'],
    ['{"a":1.0}', 'a'],
    ['{"a":-0}', 'a'],
    ['{"a":-0.0}', 'a'],
    ['{"a":[0,1,2e0]}', 'a[2]'],
    ['{"a":9007199254740992}', 'a'],
    ['{"a":-9007199254740992}', 'a'],
    ['{"a":12345678901234567890}', 'a'],
    ['1.5', '(root)'],
  ] as const) {
    refuses(s, 'json_bad_number', path, strict);
    assert.not.throws(() => parseStrictJson(s));
  }
  for (const s of ['0', '-1', '{"a":9007199254740991}', '{"a":-9007199254740991}', '[10,100,0]', '{"a":"1e5","b":"-0"}']) {
    assert.not.throws(() => parseStrictJson(s, strict), s);
  }
});
test('nesting beyond maxDepth is refused without blowing the stack', () => {
  const deep = '['.repeat(100000) + ']'.repeat(100000);
  let e: StrictJsonError | undefined;
  try {
    parseStrictJson(deep);
  } catch (x) {
    e = x as StrictJsonError;
  }
  // JSON.parse itself may refuse such depth (RangeError -> json_syntax); either way a typed refusal
  assert.instance(e, StrictJsonError);
  refuses('[[[[1]]]]', 'json_too_deep', undefined, { maxDepth: 3 });
  assert.not.throws(() => parseStrictJson('[[[1]]]', { maxDepth: 3 }));
});
test('fuzz: random JSON agrees with JSON.parse and duplicates are always caught', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const keys = ['a', 'b', 'c', '1', '2', 'é', 'x:y', 'q"'];
  const gen = (d: number): string => {
    const t = d > 3 ? rnd(3) : rnd(6);
    if (t === 0) return String(rnd(1000) - 500);
    if (t === 1) return JSON.stringify(keys[rnd(keys.length)]! + ':\\');
    if (t === 2) return ['true', 'false', 'null'][rnd(3)]!;
    if (t === 3) return '[' + Array.from({ length: rnd(4) }, () => gen(d + 1)).join(',') + ']';
    const n = rnd(5);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(JSON.stringify(keys[rnd(keys.length)]) + ':' + gen(d + 1));
    return '{' + parts.join(',') + '}';
  };
  const hasDup = (s: string): boolean => {
    // reference: walk the tokens with a stack of key sets
    let dup = false;
    const stack: Array<Set<string> | null> = [];
    let i = 0;
    let expectKey = false;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '"') {
        let j = i + 1;
        while (s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
        const str = JSON.parse(s.slice(i, j + 1)) as string;
        const top = stack[stack.length - 1];
        if (expectKey && top) {
          if (top.has(str)) dup = true;
          top.add(str);
        }
        i = j + 1;
        expectKey = false;
        continue;
      }
      if (c === '{') {
        stack.push(new Set());
        expectKey = true;
      } else if (c === '[') stack.push(null);
      else if (c === '}' || c === ']') stack.pop();
      else if (c === ',') expectKey = stack[stack.length - 1] !== null;
      i++;
    }
    return dup;
  };
  let dups = 0;
  for (let n = 0; n < 2000; n++) {
    const s = gen(0);
    const r = scanJson(s);
    assert.equal(r.value, JSON.parse(s));
    const expected = hasDup(s);
    if (expected) dups++;
    assert.is(r.duplicateKeyPath !== undefined, expected, s);
  }
  assert.ok(dups > 50, `the generator produced duplicates (${dups})`);
});

test.run();
