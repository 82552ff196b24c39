// The configuration reference (docs/config.md), generated from the schema so it cannot drift.
import { configKeys, envName } from './config.ts'
import { DEVNET_PROFILE } from './devnet-profile.ts'

export function renderConfigDoc(): string {
  const show = (v: unknown) =>
    Array.isArray(v) ? (v.length === 0 ? '[]' : v.join(', ')) : v === '' ? '(empty)' : String(v)
  const devnet = DEVNET_PROFILE as Record<string, Record<string, unknown> | undefined>

  const lines = [
    '# Configuration reference',
    '',
    'Generated from `src/node/config.ts` by `scripts/gen-config-doc.ts`; do not edit by hand.',
    '',
    'Sources, weakest first: defaults < profile (`nsn devnet` uses the devnet profile) < YAML file',
    '(`--config FILE`) < environment variables < `--set section.key=value` flags. An unknown key or a',
    'value of the wrong type or out of bounds stops the node with an error that names the key.',
    '`nsn node --print-config` prints the effective configuration.',
    '',
    '| key | default | devnet | environment | type |',
    '|---|---|---|---|---|',
  ]
  for (const k of configKeys()) {
    const [section, name] = k.key.split('.') as [string, string]
    const d = devnet[section]?.[name]
    const type = k.values ? k.values.join(' \\| ') : k.type
    lines.push(
      `| \`${k.key}\` | \`${show(k.default)}\` | ${d === undefined ? '' : `\`${show(d)}\``} | \`${envName(k.key)}\` | ${type} |`,
    )
  }
  lines.push(
    '',
    'Component docs explain the keys: `docs/lane0.md` (lane0.*), `docs/p2p.md` (p2p.*), `docs/chain.md`,',
    '`docs/sidecar.md` (sidecar.*, vortex.*); `recipes.*` are the recipe bounds of docs/protocol.md §4.',
    '',
  )
  return lines.join('\n')
}
