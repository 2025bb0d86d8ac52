/** Captures what the load tool prints, for tests. */
import type { MainIo } from '../../bench/load/main.js';

export interface Captured extends MainIo {
  stdout: () => string;
  stderr: () => string;
}

export function captureIo(): Captured {
  let out = '';
  let err = '';
  return {
    out: (s) => {
      out += s;
    },
    err: {
      write: (s: string) => {
        err += s;
        return true;
      },
      isTTY: false,
    },
    stdout: () => out,
    stderr: () => err,
  };
}
