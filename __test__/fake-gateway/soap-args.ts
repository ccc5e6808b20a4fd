// The arguments of a SOAP request (NewExternalPort, NewPortMappingDescription...), decoded:
// shared by the fake gateway, which acts on them, and the Godot differential suite, which
// compares what Godot and upnp-native sent.

const unescapeXml = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')

export function soapArgs(body: string): Record<string, string> {
  const args: Record<string, string> = {}
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)\s*\/>/g)) args[m[1]!] = ''
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)>([\s\S]*?)<\/(?:[\w-]+:)?\1>/g)) args[m[1]!] = unescapeXml(m[2]!)
  return args
}
