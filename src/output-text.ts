/**
 * The canonical JSON text of an output's event, carried beside the output
 * when the room actor had it at hand (it is the text the store writes), so
 * that the gateway can put it into a text frame as it is instead of
 * encoding the event object again for every subscriber.
 *
 * It is a non-enumerable symbol property: JSON and msgpack encoders, object
 * spreads and deep comparisons never see it, embedders get outputs exactly
 * as the API describes them, and an output without it (one read back from
 * the log, or from a room actor that had no text) is encoded whole.
 */
const EVENT_TEXT = Symbol('eventText');

/** Attaches the canonical text of `output.event` (the caller guarantees they are the same JSON). */
export function attachEventText(output: object, text: string): void {
  Object.defineProperty(output, EVENT_TEXT, { value: text, enumerable: false, writable: false, configurable: false });
}

/** The canonical text of the output's event, when attached. */
export function eventTextOf(output: object): string | undefined {
  return (output as { [EVENT_TEXT]?: string })[EVENT_TEXT];
}
