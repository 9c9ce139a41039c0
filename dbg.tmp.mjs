import net from 'node:net';
import { startServer } from './dist/src/server/index.js';
import { embeddedEngine } from './dist/src/solve.js';
const engine = await embeddedEngine();
const srv = await startServer({ engine, apiKey: 'k', maxBodyBytes: 4000, log: (l) => console.log('LOG', l) });
const port = srv.port;
function raw(text, { end = false } = {}) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => { s.write(text); if (end) s.end(); });
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { data += d; console.log('DATA', JSON.stringify(d.slice(0, 200))); });
    s.on('end', () => console.log('END'));
    s.on('close', () => resolve(data));
    setTimeout(() => { console.log('still open after 2s'); s.destroy(); }, 2000);
  });
}
await raw('POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: 20\r\n\r\n');
await srv.close();
