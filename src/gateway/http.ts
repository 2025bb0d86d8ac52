/**
 * The plain HTTP side of the gateway's port: `GET /health` (JSON, 200 while
 * serving, 503 while shutting down) and `GET /metrics` (Prometheus text from
 * the process registry). Everything else is a JSON 404 (405 for other
 * methods on those paths).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metricsContentType, metricsText } from '../metrics.js';

export interface HealthInfo {
  status: 'ok' | 'shutting_down';
  server_name: string;
  connections: number;
  output_head: number | null;
  uptime_s: number;
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function httpHandler(health: () => HealthInfo, log: { error(obj: object, msg: string): void }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' || path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        sendJson(res, 405, { errcode: 'M_UNRECOGNIZED', error: 'method not allowed' });
        return;
      }
      if (path === '/health') {
        const h = health();
        sendJson(res, h.status === 'ok' ? 200 : 503, h);
        return;
      }
      metricsText().then(
        (text) => {
          res.writeHead(200, { 'content-type': metricsContentType, 'cache-control': 'no-store' });
          res.end(text);
        },
        (err: unknown) => {
          log.error({ err }, 'collecting metrics failed');
          sendJson(res, 500, { errcode: 'M_UNKNOWN', error: 'collecting metrics failed' });
        },
      );
      return;
    }
    sendJson(res, 404, { errcode: 'M_NOT_FOUND', error: 'not found; the WebSocket endpoint is /' });
  };
}
