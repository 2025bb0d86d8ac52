// Child process for the kill -9 test: opens a RoomServer on a data folder,
// trusts a remote key, and async-inputs the events of a JSON file in
// batches (of 25, or the fourth argument), printing "ACK <n>" after each
// batch is acknowledged (journaled).
import { readFileSync } from 'node:fs';
import { RoomServer } from '../../src/server.js';
import type { JsonObject } from '../../src/matrix/json.js';

const [dataDir, file, from, batchArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const { key, events } = JSON.parse(readFileSync(file, 'utf8')) as {
  key: { server: string; keyId: string; publicKey: string };
  events: JsonObject[];
};
const rs = await RoomServer.open({ dataDir, serverName: 'a.test' });
rs.addServerKey(key.server, key.keyId, key.publicKey);
const batch = Number(batchArg ?? 25);
for (let i = Number(from); i < events.length; i += batch) {
  const slice = events.slice(i, i + batch).map((event) => ({ event }));
  for (;;) {
    try {
      await rs.input(slice, { async: true });
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== 'M_LIMIT_EXCEEDED') throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  process.stdout.write(`ACK ${Math.min(i + batch, events.length)}\n`);
}
process.stdout.write('DONE\n');
await rs.close();
