/** Test helper: the RoomServerError a promise rejects with (fails the test when it resolves or rejects otherwise). */
import * as assert from 'uvu/assert';
import { RoomServerError } from '../../src/errors.js';

export async function rejection(p: Promise<unknown>): Promise<RoomServerError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, RoomServerError);
    return e as RoomServerError;
  }
  throw new Error('expected a rejection');
}
