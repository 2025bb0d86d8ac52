/**
 * What the tool expects a room to hold, built only from events the server
 * acknowledged as accepted: the state (per key, the event IDs it may be:
 * one, or two after a fork whose branches set the same key, since state
 * resolution picks one), the forward extremities and the depth. The final
 * check compares these with the server's answers.
 */

export interface AckedEvent {
  id: string;
  type: string;
  /** present for state events */
  stateKey?: string | undefined;
  content: Record<string, unknown>;
  /** undefined in send mode: the server chose them (all current extremities) */
  prevs?: string[];
  /** undefined in send mode: one more than the room's depth */
  depth?: number;
}

export class RoomModel {
  /** (type, state key) -> the event IDs the server's state may hold there */
  readonly state = new Map<string, string[]>();
  extremities: string[] = [];
  depth = 0;
  /** every accepted event, in acknowledgement order */
  readonly accepted: string[] = [];
  /** events the server acknowledged with another status, or that failed */
  failed = 0;

  constructor(
    readonly index: number,
    public roomId: string,
  ) {}

  /** Applies a group of events that went in together (one event, or the two branches of a fork). */
  apply(group: AckedEvent[]): void {
    const touched = new Map<string, string[]>();
    const newExtremities = new Set(this.extremities);
    let depth = this.depth;
    for (const e of group) {
      this.accepted.push(e.id);
      if (e.prevs === undefined) newExtremities.clear();
      else for (const p of e.prevs) newExtremities.delete(p);
      depth = Math.max(depth, e.depth ?? this.depth + 1);
      if (e.stateKey !== undefined) {
        const k = `${e.type}\u0000${e.stateKey}`;
        const list = touched.get(k) ?? [];
        list.push(e.id);
        touched.set(k, list);
      }
    }
    for (const e of group) newExtremities.add(e.id);
    this.extremities = [...newExtremities];
    this.depth = depth;
    for (const [k, ids] of touched) this.state.set(k, ids);
  }

  /** Joined members as the expected state has them (the tool only ever joins). */
  get members(): number {
    let n = 0;
    for (const k of this.state.keys()) if (k.startsWith('m.room.member\u0000')) n++;
    return n;
  }
}
