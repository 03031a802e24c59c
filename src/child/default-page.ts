// The page `SetHandler default-page` serves: proof that the daemon runs, and where to go next.
import type http from 'node:http';
import { version } from '../version';

const body = Buffer.from(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mpmproxy works</title></head>
<body>
<h1>It works: mpmproxy ${version}</h1>
<p>This is the default page of mpmproxy's embedded configuration.</p>
<p>Point it at your application with a configuration file (<code>mpmproxy -f /etc/mpmproxy/mpmproxy.conf</code>)
containing <code>ProxyPass / http://127.0.0.1:3000/</code>, and see the server's state at
<a href="/server-status">/server-status</a>.</p>
</body></html>
`);

export function serveDefaultPage(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}
