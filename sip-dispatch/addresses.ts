import { isIP } from 'node:net';

/**
 * An inbound trunk's allowed source address: an IPv4 or IPv6 address, or a CIDR whose host bits
 * are zero. livekit-sip skips an entry it cannot parse, so a typo in the only entry would either
 * refuse every call or, if the server ignores it, allow any source; host names are refused because
 * the server matches them against the INVITE's From host, which the caller chooses.
 * Returns why `value` is not one, or undefined when it is.
 */
export function addressProblem(value: string): string | undefined {
  if (/\s|,/.test(value))
    return `"${value}" contains a space or comma; give one address or CIDR per list item`;
  const slash = value.indexOf('/');
  const ip = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) {
    return /^[a-z0-9.-]+$/i.test(ip) && /[a-z]/i.test(ip)
      ? `"${value}" is a host name; use the IP addresses or CIDRs the carrier sends from (a host name is matched against the caller's From header, which anyone can set)`
      : `"${value}" is not an IP address or CIDR (e.g. 192.0.2.10 or 192.0.2.0/24)`;
  }
  if (slash === -1) return undefined;
  const bits = family === 4 ? 32 : 128;
  const prefixText = value.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits)
    return `"${value}" has prefix length /${prefixText}; an IPv${family} prefix is /0 to /${bits}`;
  const prefix = Number(prefixText);
  const hostBits = addressBits(ip, family as 4 | 6) & ((1n << BigInt(bits - prefix)) - 1n);
  if (hostBits !== 0n)
    return `"${value}" has host bits set after /${prefix}; use the network address (e.g. ${networkOf(ip, family as 4 | 6, prefix)}/${prefix}) or a /${bits} for one host`;
  return undefined;
}

function addressBits(ip: string, family: 4 | 6): bigint {
  if (family === 4) return ip.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  // Expand "::" and an embedded IPv4 tail, then read eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const n = addressBits(v4[1] ?? '', 4);
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function networkOf(ip: string, family: 4 | 6, prefix: number): string {
  const bits = family === 4 ? 32 : 128;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
  const n = addressBits(ip, family) & mask;
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
