// Every vector of shared conformance CANONICAL_JSON.md, plus code point ordering.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson, canonicalJsonBytes, canonicalJsonWithout, canonicalObjectText, compareCodePoints, findNonCanonicalNumber, withMembers, CanonicalJsonError } from '../../src/matrix/canonical-json.js';
import { parseStrictJson, scanJson, StrictJsonError } from '../../src/matrix/strict-json.js';
import type { JsonValue } from '../../src/matrix/json.js';

/** text in -> canonical text out, through the strict reader (lenient numbers, as for v1-v5). */
function canon(text: string): string {
  return canonicalJson(parseStrictJson(text));
}

// A. spec examples
const A: Array<[string, string, string]> = [
  ['C1', '{}', '{}'],
  ['C2', '{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['C3', '{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['C4', '{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    'C5',
    '{\n "auth": {\n  "success": true,\n  "mxid": "@john.doe:example.com",\n  "profile": {\n   "display_name": "John Doe",\n   "three_pids": [\n    {"medium": "email", "address": "john.doe@example.org"},\n    {"medium": "msisdn", "address": "123456789"}\n   ]\n  }\n }\n}',
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['C6', '{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
  ['C7', '{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
  ['C8', '{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
  ['C9', '{\n    "a": null\n}', '{"a":null}'],
  ['C10', '{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ['ruma to_string', '{ "city": "London", "street": "10 Downing Street" }', '{"city":"London","street":"10 Downing Street"}'],
];
for (const [name, input, expected] of A) {
  test(`spec example ${name}`, () => {
    assert.is(canon(input), expected);
  });
}

test('C5: array order kept, only keys sorted', () => {
  const out = canon('{"x":[3,1,2,{"b":1,"a":2}]}');
  assert.is(out, '{"x":[3,1,2,{"a":2,"b":1}]}');
});

// B. string escaping (python-canonicaljson)
test('S1 empty object', () => assert.is(canonicalJson({}), '{}'));
test('S2 control char and CR LF', () => assert.is(canonicalJson('text\u0003\r\n'), '"text\\u0003\\r\\n"'));
test('S3 quote, backslash', () => assert.is(canonicalJson('"\\ test'), '"\\"\\\\ test"'));
test('S4 raw UTF-8, no \\u escapes', () => {
  const bytes = canonicalJsonBytes({ 'la merde amusée': '💩' });
  const expected = Buffer.concat([
    Buffer.from('{"la merde amus', 'latin1'),
    Buffer.from([0xc3, 0xa9]),
    Buffer.from('e":"', 'latin1'),
    Buffer.from([0xf0, 0x9f, 0x92, 0xa9]),
    Buffer.from('"}', 'latin1'),
  ]);
  assert.ok(bytes.equals(expected), bytes.toString('hex'));
});
test('S5 U+2028 / U+2029 are not escaped', () => {
  const bytes = canonicalJsonBytes({ spaces: '\u2028 \u2029' });
  const expected = Buffer.concat([Buffer.from('{"spaces":"'), Buffer.from([0xe2, 0x80, 0xa8, 0x20, 0xe2, 0x80, 0xa9]), Buffer.from('"}')]);
  assert.ok(bytes.equals(expected));
});
test('S6 backslash followed by u1234', () => assert.is(canonicalJson('\\u1234'), '"\\\\u1234"'));
test('S7 short escapes', () => {
  assert.is(canonicalJson('\b'), '"\\b"');
  assert.is(canonicalJson('\t'), '"\\t"');
  assert.is(canonicalJson('\n'), '"\\n"');
  assert.is(canonicalJson('\f'), '"\\f"');
  assert.is(canonicalJson('\r'), '"\\r"');
});
test('S8 quote and backslash', () => {
  assert.is(canonicalJson('"'), '"\\""');
  assert.is(canonicalJson('\\'), '"\\\\"');
});
test('S9 other controls as lowercase \\u00xx', () => {
  const codes = [0, 1, 2, 3, 4, 5, 6, 7, 0x0b, ...Array.from({ length: 0x20 - 0x0e }, (_, i) => 0x0e + i)];
  for (const c of codes) {
    assert.is(canonicalJson(String.fromCharCode(c)), `"\\u00${c.toString(16).padStart(2, '0')}"`, `U+${c.toString(16)}`);
  }
  assert.is(canonicalJson('\u000b'), '"\\u000b"');
  assert.is(canonicalJson('\u001f'), '"\\u001f"');
});
test('S10 printable ASCII unescaped (and / and DEL raw)', () => {
  for (let c = 0x20; c <= 0x7f; c++) {
    if (c === 0x22 || c === 0x5c) continue;
    const ch = String.fromCharCode(c);
    assert.is(canonicalJson(ch), `"${ch}"`);
  }
});
test('S11 inf, -inf, nan are not encodable', () => {
  for (const n of [Infinity, -Infinity, NaN]) {
    assert.throws(() => canonicalJson(n));
    assert.throws(() => canonicalJson({ a: n }));
  }
});

// C-1 conversion to canonical form (gomatrixserverlib)
const C1: Array<[string, string]> = [
  ['{"\\u00F1":0}', '{"ñ":0}'],
  ['{"\\ud83d\\udc08":0}', '{"🐈":0}'],
  ['{"a":-0}', '{"a":0}'],
  ['{"b":0,"a":1}', '{"a":1,"b":0}'],
  ['{"a":[{"b":0,"a":1},{"b":0,"a":1}]}', '{"a":[{"a":1,"b":0},{"a":1,"b":0}]}'],
  ['{"a": 0}', '{"a":0}'],
  [
    '{ "\\u00F1": -0, "2": 0, "1": 9007199254740991, "4": [{"2": 0, "1": 0},{"2": 0, "1": 0}] }',
    '{"1":9007199254740991,"2":0,"4":[{"1":0,"2":0},{"1":0,"2":0}],"ñ":0}',
  ],
];
for (const [input, expected] of C1) {
  test(`gmsl conversion ${input}`, () => assert.is(canon(input), expected));
}

// C-2 strict validation (v6+) vs lenient (v1)
const C2: Array<[string, boolean | undefined, boolean]> = [
  // [input, valid when lenient (undefined = not asserted upstream), valid when strict]
  ['{"foo": 9007199254740991, "bar": {"baz": 9007199254740991}}', true, true],
  ['{"foo": 9007199254740991, "bar": {"baz": 9007199254740991, "qux": {"another": [9007199254740998]}}}', true, false],
  ['{"foo": 1.1}', true, false],
  ['{"a":-0}', undefined, false],
  ['{"a":9007199254740992}', undefined, false],
  ['{"a":-9007199254740992}', undefined, false],
  ['{"a":1e5}', undefined, false],
  ['{"a":1.5}', undefined, false],
  ['{"1":9007199254740991,"2":0,"3":-9007199254740991,"4":[{"1":0,"2":0},{"1":0,"2":0}],"ñ":0}', undefined, true],
];
for (const [input, lenient, strict] of C2) {
  test(`gmsl strictness ${input}`, () => {
    // lenient reading never refuses numbers
    if (lenient !== undefined) assert.not.throws(() => parseStrictJson(input));
    if (strict) {
      assert.not.throws(() => parseStrictJson(input, { canonicalNumbers: true }));
      assert.is(scanJson(input).nonCanonicalNumberPath, undefined);
    } else {
      try {
        parseStrictJson(input, { canonicalNumbers: true });
        assert.unreachable('should refuse');
      } catch (e) {
        assert.instance(e, StrictJsonError);
        assert.is((e as StrictJsonError).reason, 'json_bad_number');
        assert.is((e as StrictJsonError).code, 'M_BAD_JSON');
      }
    }
  });
}

test('C-2: the path of the offending number is named', () => {
  assert.is(scanJson('{"foo": 9007199254740991, "bar": {"baz": 1, "qux": {"another": [9007199254740998]}}}').nonCanonicalNumberPath, 'bar.qux.another[0]');
  assert.is(scanJson('{"a":1e5}').nonCanonicalNumberPath, 'a');
  // the parsed values of 1e5 and -0 look harmless; only the text shows them
  assert.is(findNonCanonicalNumber(JSON.parse('{"a":1e5}') as JsonValue), undefined);
  assert.is(findNonCanonicalNumber({ a: 1.1 }), 'a');
  assert.is(findNonCanonicalNumber({ a: [2 ** 53] }), 'a[0]');
});

test('canonicalJson strict mode refuses floats and out-of-range integers', () => {
  assert.throws(() => canonicalJson({ a: 1.5 }, true));
  assert.throws(() => canonicalJson({ a: 2 ** 53 }, true));
  assert.is(canonicalJson({ a: 2 ** 53 - 1, b: -(2 ** 53 - 1) }, true), '{"a":9007199254740991,"b":-9007199254740991}');
});

// C-3 compaction / escape normalisation
const C3: Array<[string, string]> = [
  ['{ }', '{}'],
  ['["\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"]', '["\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"]'],
  ['["\\u0008\\u0009\\u000A\\u000B\\u000C\\u000D\\u000E\\u000F"]', '["\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"]'],
  ['["\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"]', '["\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"]'],
  ['["\\u0018\\u0019\\u001A\\u001B\\u001C\\u001D\\u001E\\u001F"]', '["\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"]'],
  ['["\\u0061\\u005C\\u0042\\u0022"]', '["a\\\\B\\""]'],
  ['["\\u0120"]', '["\u0120"]'],
  ['["\\u0FFF"]', '["\u0FFF"]'],
  ['["\\u0FFf"]', '["\u0FFF"]'],
  ['["\\u1820"]', '["\u1820"]'],
  ['["\\uFFFF"]', '["\uFFFF"]'],
  ['["\\uD842\\uDC20"]', '["\u{20820}"]'],
  ['["\\uDBFF\\uDFFF"]', '["\u{10FFFF}"]'],
  ['["\\\\"]', '["\\\\"]'],
  ['["\\b"]', '["\\b"]'],
  ['["\\f"]', '["\\f"]'],
  ['["\\n"]', '["\\n"]'],
  ['["\\r"]', '["\\r"]'],
  ['["\\t"]', '["\\t"]'],
  ['"\\u000a"', '"\\n"'],
  ['"\\u000A"', '"\\n"'],
  ['"\\u0022"', '"\\""'],
  ['"\\u005c"', '"\\\\"'],
  ['["\\"\\\\\\/"]', '["\\"\\\\/"]'],
  ['["\\/"]', '["/"]'],
];
for (const [input, expected] of C3) {
  test(`gmsl compaction ${input}`, () => assert.is(canon(input), expected));
}
test('raw UTF-8 bytes for \\u escapes above ASCII', () => {
  assert.ok(Buffer.from(canon('["\\uD842\\uDC20"]'), 'utf8').equals(Buffer.from([0x5b, 0x22, 0xf0, 0xa0, 0xa0, 0xa0, 0x22, 0x5d])));
});
test('unpaired surrogate escape: refused (gmsl drops it; canonical JSON cannot represent it)', () => {
  try {
    parseStrictJson('["\\uDEAD"]');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, StrictJsonError);
    assert.is((e as StrictJsonError).reason, 'json_lone_surrogate');
    assert.is((e as StrictJsonError).path, '[0]');
  }
});

// Sorting (TestSortJSON)
test('gmsl sorting', () => {
  assert.is(canon('[{"b":"two","a":1}]'), '[{"a":1,"b":"two"}]');
  assert.is(canon('{"B":{"4":4,"3":3},"A":{"1":1,"2":2}}'), '{"A":{"1":1,"2":2},"B":{"3":3,"4":4}}');
  assert.is(canon('[true,false,null]'), '[true,false,null]');
  assert.is(canon('[9007199254740991]'), '[9007199254740991]');
  assert.is(canon('\t\n[true]'), '[true]');
});

// D. ruma construction rules, as they apply to JSON input
test('ruma: i64::MAX is out of range (strict)', () => {
  assert.throws(() => parseStrictJson('{"a":9223372036854775807}', { canonicalNumbers: true }), (e: unknown) => (e as StrictJsonError).reason === 'json_bad_number');
  assert.throws(() => canonicalJson({ a: 9223372036854775807 }, true));
});
test('ruma: a float written as 10.0 is refused even though integral (strict)', () => {
  assert.throws(() => parseStrictJson('{"a":10.0}', { canonicalNumbers: true }), (e: unknown) => (e as StrictJsonError).path === 'a');
});
test('ruma: duplicate object key', () => {
  assert.throws(() => parseStrictJson('{"foo":1,"foo":2}'), (e: unknown) => (e as StrictJsonError).reason === 'json_duplicate_key');
});

// Own: ordering by code point, not UTF-16 code unit
test('keys sort by code point: U+FFFF before U+1F408', () => {
  const obj = { '\u{1F408}': 1, '\uFFFF': 2, '\uE000': 3, a: 4 };
  // UTF-16 order would put the astral cat (D83D DC08) before U+E000 and U+FFFF.
  assert.is(canonicalJson(obj), '{"a":4,"\uE000":3,"\uFFFF":2,"\u{1F408}":1}');
  assert.ok(compareCodePoints('\uFFFF', '\u{1F408}') < 0);
  assert.ok(compareCodePoints('\u{1F408}', '\uFFFF') > 0);
  assert.ok('\u{1F408}' < '\uFFFF', 'JavaScript < compares code units: the reason for compareCodePoints');
});
test('keys sort by code point: astral vs astral, and prefix order', () => {
  assert.is(canonicalJson({ '\u{1F409}': 1, '\u{1F408}': 2, '\u{10000}': 3 }), '{"\u{10000}":3,"\u{1F408}":2,"\u{1F409}":1}');
  assert.is(canonicalJson({ ab: 1, a: 2, '': 3 }), '{"":3,"a":2,"ab":1}');
});
test('integer-like keys are sorted as strings, not numbers', () => {
  assert.is(canonicalJson({ 10: 'a', 9: 'b', 1: 'c' }), '{"1":"c","10":"a","9":"b"}');
});

test('keys needing escapes are quoted like strings; long keys too', () => {
  const long = 'k'.repeat(100) + '"';
  const obj = { 'a"b': 1, 'c\\d': 2, 'e\u0001': 3, [long]: 4 };
  const expected = '{"a\\"b":1,"c\\\\d":2,"e\\u0001":3,' + JSON.stringify(long) + ':4}';
  assert.is(canonicalJson(obj), expected);
  assert.is(canonicalJson(obj), expected, 'same again (cached key encodings)');
  assert.is(canonicalJson(obj, true), expected, 'strict encoder agrees');
});
test('an own "__proto__" key is written like any other', () => {
  const v = JSON.parse('{"b":1,"__proto__":{"x":1}}') as JsonValue;
  assert.is(canonicalJson(v), '{"__proto__":{"x":1},"b":1}');
});
test('unencodable values are refused with their path', () => {
  assert.throws(() => canonicalJson({ a: { b: [1, Infinity] } }), (e: unknown) => e instanceof CanonicalJsonError && e.path === 'a.b[1]');
  assert.throws(() => canonicalJson({ a: 1.5 }, true), (e: unknown) => e instanceof CanonicalJsonError && e.path === 'a');
  assert.throws(() => canonicalJson([undefined] as unknown as JsonValue), (e: unknown) => e instanceof CanonicalJsonError);
});
test('lenient and strict encoders agree on canonical input', () => {
  const v = JSON.parse('{"z":[1,-2,{"\u00e9":null,"a":true}],"\ud83d\ude00":"x","\uffff":{"":0},"m":"\u2028"}') as JsonValue;
  assert.is(canonicalJson(v), canonicalJson(v, true));
  assert.is(canonicalJson(v), '{"m":"\u2028","z":[1,-2,{"a":true,"é":null}],"\uffff":{"":0},"😀":"x"}');
});
test('canonicalJsonWithout leaves out top-level keys only', () => {
  const o = { b: 1, unsigned: { x: 1 }, a: { unsigned: 2 }, signatures: {} };
  assert.is(canonicalJsonWithout(o, ['unsigned', 'signatures']), '{"a":{"unsigned":2},"b":1}');
  assert.is(canonicalJsonWithout({ unsigned: 1 }, ['unsigned']), '{}');
});

test('keys in any order, from 2 to 40 of them, come out sorted (strict, lenient, spliced)', () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let n = 2; n <= 40; n++) {
    for (let round = 0; round < 5; round++) {
      const keys = Array.from({ length: n }, (_, i) => `k${String.fromCharCode(97 + rnd(26))}${i}${round % 2 ? 'Z' : ''}`);
      for (let i = keys.length - 1; i > 0; i--) {
        const j = rnd(i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      const obj: Record<string, JsonValue> = {};
      for (const k of keys) obj[k] = k.length;
      const expected = '{' + [...keys].sort().map((k) => `${JSON.stringify(k)}:${k.length}`).join(',') + '}';
      assert.is(canonicalJson(obj, true), expected);
      assert.is(canonicalJson(obj), expected);
      const t = canonicalObjectText(obj);
      assert.is(t.text, expected);
      assert.is(withMembers(canonicalObjectText(Object.fromEntries(keys.slice(1).map((k) => [k, obj[k]!]))), { [keys[0]!]: obj[keys[0]!]! }), expected);
    }
  }
});

test.run();
