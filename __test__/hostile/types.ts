// Script format of the hostile device (hostile-device.ts) and of its control API.

/** One HTTP answer, sent as given. */
export interface RawResponse {
  status?: number
  headers?: Record<string, string>
  /** Sent as UTF-8 (control characters, C1 and bidi overrides included, as written). */
  body?: string
  /** `body` repeated this many times (big bodies without a big scenario). */
  repeat?: number
  delayMs?: number
}

/** An HTTP server on ip:port. Routes: "GET /d.xml", "POST /ctl#GetExternalIPAddress"
 *  (method, path and SOAP action), "POST /ctl" (any action) or "*" (anything else). */
export interface HostileHttp {
  ip: string
  port: number
  routes: Record<string, RawResponse>
}

/** Datagrams sent to every searcher once (to its first M-SEARCH), from `from`. */
export interface HostileSsdp {
  /** '192.168.77.20', '192.168.77.21', 'fd77::20' or '::' (the kernel's link-local source). */
  from: string
  text: string
  copies?: number
  delayMs?: number
}

export interface HostileScenario {
  http?: HostileHttp[]
  ssdp?: HostileSsdp[]
}

export interface NotifyBurst {
  from: string
  text: string
  count: number
  intervalMs?: number
  /** Default: the SSDP group 239.255.255.250. */
  to?: string
}

export interface HostileLog {
  http: Array<{ t: number; ip: string; port: number; method: string; path: string; action?: string; from: string; bytes: number }>
  ssdp: Array<{ t: number; from: string; st: string }>
}
