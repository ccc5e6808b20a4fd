// @silentbot1/nat-api ships no types: the part of its API the bench uses.
declare module '@silentbot1/nat-api' {
  interface MapOptions {
    publicPort: number
    privatePort?: number
    protocol?: 'UDP' | 'TCP' | null
    description?: string
    ttl?: number
  }
  export default class NatAPI {
    constructor(opts?: {
      ttl?: number
      description?: string
      gateway?: string
      autoUpdate?: boolean
      enablePMP?: boolean
      enableUPNP?: boolean
      upnpPermanentFallback?: boolean
    })
    map(publicPort: number | MapOptions, privatePort?: number): Promise<boolean>
    unmap(publicPort: number | MapOptions, privatePort?: number): Promise<boolean>
    externalIp(): Promise<string>
    destroy(): Promise<boolean>
  }
}
