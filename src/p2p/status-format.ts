// Human-readable lines for the network part of a node's status (`nsn status`).
import type { P2PStatus } from './node.ts'

export function formatP2PStatus(s: P2PStatus): string[] {
  const r = s.reachability
  const kinds = { direct: 0, relayed: 0, 'hole-punched': 0 }
  for (const c of s.connections) kinds[c.kind]++
  const lines = [
    `peer id      ${s.peerId}${s.started ? '' : ' (p2p not started)'}`,
    `NAT          ${r.nat}`,
    `listen       ${s.listen.length > 0 ? s.listen.join('\n             ') : '(none)'}`,
    `observed     ${
      r.observed.length > 0
        ? r.observed
            .map((o) => `${o.addr}${o.verified ? ' (confirmed)' : ' (unconfirmed)'}`)
            .join('\n             ')
        : '(none yet)'
    }`,
    `connections  ${s.connections.length} to ${s.peers} peers: ${kinds.direct} direct, ${kinds['hole-punched']} hole-punched, ${kinds.relayed} relayed`,
    `DHT          ${r.dht.enabled ? `${r.dht.mode} mode, routing table ${r.dht.routingTableSize} peers` : 'off'}`,
    `relay        ${r.relay.reservations.length} reservation(s) held${
      r.relay.served === null ? '' : `, serving ${r.relay.served} reservation(s)`
    }${r.relay.reservations.length > 0 ? `\n             ${r.relay.reservations.join('\n             ')}` : ''}`,
    `directors    ${r.directors.connectedDirect}/${r.directors.protected} of the current and next epoch connected directly`,
    `mesh         ${Object.entries(s.topics)
      .map(([t, v]) => `${t} ${v.meshPeers.length}`)
      .join(', ')}`,
    `graylisted   ${s.graylisted.length > 0 ? s.graylisted.join(', ') : 'none'}`,
  ]
  for (const c of s.connections) lines.push(`  ${c.kind.padEnd(12)} ${c.direction.padEnd(8)} ${c.addr}`)
  return lines
}
