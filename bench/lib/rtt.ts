// The round-trip time the latency proxy really adds: timers make it 1-2 ms more than set.
import { createServer, connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startProxyChild } from './processes.js';
import { median } from './stats.js';

/** Median RTT of 1-byte pings through the proxy to a local echo server. */
export async function calibrateRtt(rttMs: number, pings = 30): Promise<number> {
  const echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const address = echo.address();
  const echoPort = typeof address === 'object' && address !== null ? address.port : 0;
  const proxy = await startProxyChild(`127.0.0.1:${echoPort}`, rttMs);
  const socket = netConnect({ host: proxy.host, port: proxy.port, noDelay: true });
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', j);
  });
  const times: number[] = [];
  const once = () =>
    new Promise<number>((resolve) => {
      const t = performance.now();
      socket.once('data', () => resolve(performance.now() - t));
      socket.write('x');
    });
  await once(); // waits out the emulated handshake
  for (let i = 0; i < pings; i++) times.push(await once());
  socket.destroy();
  await proxy.stop();
  await new Promise<void>((r) => echo.close(() => r()));
  return median(times);
}
