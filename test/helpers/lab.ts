// The network lab: separate hosts as Linux network namespaces that the test creates itself.
// An "internet" namespace holds a bridge; public hosts hang on it with addresses from 198.18.0.0/16,
// NAT'd hosts sit behind a router namespace of their own (private 198.19.N.0/24, iptables
// MASQUERADE onto the bridge). Uplinks can be capped with `tc tbf` (this kernel has no netem, so
// bandwidth caps only, no delay). Processes run in their host with `ip netns exec`; `stop()` kills
// them by pid and deletes every namespace (with them every veth, bridge and rule), also when the
// test failed. 198.18.0.0/15 (RFC 2544) is used only inside these namespaces; names carry the pid.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'

export interface LabHost {
  name: string
  /** Namespace the host's processes run in. */
  ns: string
  /** The host's own address (private for a NAT'd host). */
  ip: string
  /** Public address the host is seen at: its own, or its NAT router's. */
  publicIp: string
  nat: boolean
}

export interface LabSpec {
  publicHosts: string[]
  natHosts: string[]
  /** Cap every host's uplink (tbf), Mbit/s. */
  uplinkMbit?: number
}

const run = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })

/** Why the lab cannot run here (no root, no namespaces, no iptables), or null when it can. */
export function labUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  const probe = `nsnprobe${process.pid}`
  try {
    run(['netns', 'add', probe])
    run(['netns', 'del', probe])
  } catch (err) {
    return `cannot create network namespaces (${(err as Error).message.split('\n')[0]})`
  }
  try {
    execFileSync('iptables', ['--version'], { stdio: 'ignore' })
    execFileSync('tc', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'iptables or tc (iproute2) missing'
  }
  return null
}

export class Lab {
  readonly hosts = new Map<string, LabHost>()
  private readonly namespaces: string[] = []
  private readonly processes: ChildProcess[] = []
  /** Bridge-side link of each host (its uplink into the internet), for cut/heal. */
  private readonly uplinks = new Map<string, string>()
  readonly inet: string
  private readonly prefix: string

  private constructor() {
    this.prefix = `n${process.pid % 100000}`
    this.inet = `${this.prefix}-inet`
  }

  static async create(spec: LabSpec): Promise<Lab> {
    const lab = new Lab()
    try {
      lab.build(spec)
    } catch (err) {
      await lab.stop()
      throw err
    }
    return lab
  }

  private addNs(name: string): string {
    run(['netns', 'add', name])
    this.namespaces.push(name)
    run(['-n', name, 'link', 'set', 'lo', 'up'])
    return name
  }

  private sh(ns: string, cmd: string, args: string[]): void {
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  }

  private build(spec: LabSpec): void {
    const p = this.prefix
    this.addNs(this.inet)
    run(['-n', this.inet, 'link', 'add', 'br0', 'type', 'bridge'])
    run(['-n', this.inet, 'link', 'set', 'br0', 'up'])
    const cap = (ns: string, dev: string) => {
      if (spec.uplinkMbit === undefined) return
      this.sh(ns, 'tc', [
        'qdisc',
        'add',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${spec.uplinkMbit}mbit`,
        'burst',
        '256kb',
        'latency',
        '500ms',
      ])
    }
    /** A veth from `ns` (named `dev` there) to the bridge, with `ip`/16. */
    const plug = (name: string, ns: string, dev: string, ip: string) => {
      const br = `${p}b${this.uplinks.size}`
      run(['-n', this.inet, 'link', 'add', br, 'type', 'veth', 'peer', 'name', dev, 'netns', ns])
      run(['-n', this.inet, 'link', 'set', br, 'master', 'br0'])
      run(['-n', this.inet, 'link', 'set', br, 'up'])
      run(['-n', ns, 'addr', 'add', `${ip}/16`, 'dev', dev])
      run(['-n', ns, 'link', 'set', dev, 'up'])
      this.uplinks.set(name, br)
      cap(ns, dev)
    }
    spec.publicHosts.forEach((name, i) => {
      const ns = this.addNs(`${p}-${name}`)
      const ip = `198.18.0.${10 + i}`
      plug(name, ns, 'wan', ip)
      this.hosts.set(name, { name, ns, ip, publicIp: ip, nat: false })
    })
    spec.natHosts.forEach((name, i) => {
      const rtr = this.addNs(`${p}-${name}-rtr`)
      const ns = this.addNs(`${p}-${name}`)
      const wan = `198.18.1.${10 + i}`
      plug(name, rtr, 'wan', wan)
      const lanNet = `198.19.${10 + i}`
      run(['-n', rtr, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      run(['-n', rtr, 'addr', 'add', `${lanNet}.1/24`, 'dev', 'lan'])
      run(['-n', rtr, 'link', 'set', 'lan', 'up'])
      run(['-n', ns, 'addr', 'add', `${lanNet}.2/24`, 'dev', 'eth0'])
      run(['-n', ns, 'link', 'set', 'eth0', 'up'])
      run(['-n', ns, 'route', 'add', 'default', 'via', `${lanNet}.1`])
      this.sh(rtr, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      this.sh(rtr, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE'])
      // A home router: nothing from outside reaches the LAN unless it answers a connection from inside.
      this.sh(rtr, 'iptables', [
        '-A',
        'FORWARD',
        '-i',
        'wan',
        '-m',
        'conntrack',
        '--ctstate',
        'ESTABLISHED,RELATED',
        '-j',
        'ACCEPT',
      ])
      this.sh(rtr, 'iptables', ['-A', 'FORWARD', '-i', 'wan', '-j', 'DROP'])
      this.hosts.set(name, { name, ns, ip: `${lanNet}.2`, publicIp: wan, nat: true })
    })
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name)
    if (h === undefined) throw new Error(`lab has no host "${name}"`)
    return h
  }

  /** Run `node <args>` in the host's namespace, with an IPC channel; stopped by pid in stop(). */
  spawnNode(host: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const h = this.host(host)
    const child = spawn('ip', ['netns', 'exec', h.ns, process.execPath, '--import', 'tsx', ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    })
    this.processes.push(child)
    return child
  }

  /** Take the host's uplink down (a partition) or up again. */
  setUplink(host: string, up: boolean): void {
    const br = this.uplinks.get(host)
    if (br === undefined) throw new Error(`lab has no host "${host}"`)
    run(['-n', this.inet, 'link', 'set', br, up ? 'up' : 'down'])
  }

  /** Bytes sent on the host's uplink so far (from its router's WAN for a NAT'd host). */
  uplinkTxBytes(host: string): number {
    const h = this.host(host)
    const ns = h.nat ? `${h.ns}-rtr` : h.ns
    const out = execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'wan'], { encoding: 'utf8' })
    return (JSON.parse(out) as { stats64: { tx: { bytes: number } } }[])[0]!.stats64.tx.bytes
  }

  /** Kill every process (by pid) and delete every namespace. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(
      this.processes.splice(0).map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return resolve()
            const t = setTimeout(() => c.kill('SIGKILL'), 3000)
            c.once('exit', () => {
              clearTimeout(t)
              resolve()
            })
            c.kill('SIGTERM')
          }),
      ),
    )
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        run(['netns', 'del', ns])
      } catch {
        // already gone
      }
    }
  }

  /** Namespaces of this lab still present (for the cleanup check). */
  leftovers(): string[] {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    return out
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.prefix}-`))
  }
}
