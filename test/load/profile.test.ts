/** The CPU profile summary: self and total time per function, and source lines through a source map. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMappings, hotSpots, type CpuProfile } from '../../bench/load/profile.js';

test('source map mappings decode to generated column -> source line', () => {
  // line 0: col 0 -> src line 0; col 4 -> src line 0; col 10 -> src line 3 (relative +3)
  // line 1: col 0 -> src line 2 (relative -1)
  const m = decodeMappings('AAAA,IAAI,MAGA;AADA');
  assert.equal(m[0], [[0, 0], [4, 0], [10, 3]]);
  assert.equal(m[1], [[0, 2]]);
});

test('self time goes to the sampled function, total time to it and every caller once', () => {
  const frame = (name: string, line: number) => ({ functionName: name, url: 'file:///work/main/src/x.js', lineNumber: line, columnNumber: 0 });
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', -1), children: [2] },
      { id: 2, callFrame: frame('outer', 9), children: [3, 4] },
      { id: 3, callFrame: frame('inner', 19), children: [5] },
      { id: 4, callFrame: frame('other', 29) },
      { id: 5, callFrame: frame('outer', 9) }, // recursion: counted once in totals
    ],
    // time deltas are the gap before each sample; sample i lasts timeDeltas[i + 1]
    samples: [3, 3, 4, 5, 2],
    timeDeltas: [0, 1000, 1000, 2000, 4000, 1000],
    startTime: 0,
    endTime: 9000,
  };
  const h = hotSpots(p);
  const f = (name: string) => h.byFunction.find((x) => x.name === name)!;
  assert.is(h.totalMs, 9);
  assert.is(f('inner').selfMs, 2);
  assert.is(f('other').selfMs, 2);
  assert.is(f('outer').selfMs, 4 + 1);
  assert.is(f('outer').totalMs, 9, 'outer is on every stack, counted once per sample despite recursion');
  assert.is(f('inner').totalMs, 2 + 4);
  assert.is(f('outer').where, 'src/x.js:10');
});

test.run();
