// The demo backend `npm start` runs beside the daemon, so the embedded configuration has
// something real to proxy to (/demo/ → 127.0.0.1:8081). It shows what the backend sees of a
// proxied request, and streams Server-Sent Events to show that nothing is buffered.
import http from 'node:http';

const port = Number(process.env.MPMPROXY_DEMO_PORT ?? 8081);

function page(req: http.IncomingMessage): string {
  const rows = Object.entries(req.headers)
    .map(([k, v]) => `<tr><td>${escape(k)}</td><td>${escape(String(v))}</td></tr>`)
    .join('');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mpmproxy demo backend</title></head>
<body><h1>Hello from the demo backend</h1>
<p>This answer came through mpmproxy. The request as the backend received it:
<code>${escape(`${req.method} ${req.url}`)}</code></p>
<table>${rows}</table>
<p><a href="events">/demo/events</a> streams one Server-Sent Event a second.</p>
</body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function events(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let n = 0;
  const timer = setInterval(() => {
    n++;
    res.write(`id: ${n}\ndata: ${new Date().toISOString()}\n\n`);
    if (n === 30) {
      clearInterval(timer);
      res.end();
    }
  }, 1000);
  res.on('close', () => clearInterval(timer));
}

const server = http.createServer((req, res) => {
  if (req.url === '/events') return events(res);
  const body = page(req);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`demo backend listening on 127.0.0.1:${port}\n`));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => server.close(() => process.exit(0)));
