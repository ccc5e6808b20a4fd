// The control API of the lab's scripted devices (the fake gateway, the hostile device): a
// small JSON-over-HTTP server on the device's LAN address that the tests drive. One route
// table per device; a thrown error is a 400 with its message; SIGTERM/SIGINT end the process.
import http from 'node:http'

/** A route: `METHOD /path` -> [status, JSON value], from the request body as text. */
export type ControlRoutes = Record<string, (body: string) => Promise<[number, unknown]> | [number, unknown]>

export function serveControl(name: string, address: string, routes: ControlRoutes, onListening: () => void): void {
  const [host, port] = address.split(':')
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8')
    })
    req.on('end', async () => {
      const json = (status: number, v: unknown) => {
        const text = JSON.stringify(v)
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text)
      }
      try {
        const route = routes[`${req.method ?? ''} ${(req.url ?? '').split('?')[0]}`]
        if (!route) return json(404, { ok: false, error: 'unknown endpoint' })
        json(...(await route(body)))
      } catch (e) {
        json(400, { ok: false, error: (e as Error).message })
      }
    })
  })
  server.listen(Number(port), host, () => {
    onListening()
    console.error(`${name}: control on http://${host}:${port}`)
  })
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0))
}
