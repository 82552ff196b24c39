// The --log-format flag of the long-running commands that are not configured by a node config
// (`nsn devchain`, `nsn sidecar`): one definition so their help and choices stay the same.
import { Option } from 'commander'
import { LOG_FORMATS } from '../node/logging.ts'

export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'log lines: json, pretty, or auto (pretty when stdout is a terminal)',
  )
    .choices([...LOG_FORMATS])
    .default('auto')
}
