// A dnode peer written with js-libp2p, for the cross-implementation
// interop test (integration/interop_test.go). It knows dnode only through
// docs/protocol.md and the .proto files, which it loads at run time.
//
// Usage: node --import ./polyfill-node20.mjs client.mjs <target-multiaddr> <network> [app-version]
//
// Output, one line each, on stdout:
//   SELF <peer-id>                       our peer ID, first
//   PING <rtt>ms                         libp2p ping (/ipfs/ping/1.0.0)
//   IDENTIFY <agent> <proto,proto,...>   from the peer:identify event
//   HANDSHAKE OK <app>/<version>         dnode version handshake done
//   DCHAT <text>                         each dchat message received
// It exits 0 after the first DCHAT line or after RUN_MS, 1 on any failure
// (with "ERROR <message>" on stderr).

import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import protobuf from 'protobufjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')

const RUN_MS = 20_000 // stop after this long without a DCHAT line
const STEP_MS = 10_000 // dial, ping, identify and handshake deadlines

// Frame caps: version, verack and ping from docs/protocol.md; addr from
// protocols/addr (MaxBytes, not in the doc); dchat from dchat/dchat.proto
// (MaxText + 256 with the default MaxText of 4096).
const CAP = { version: 4096, verack: 256, ping: 32, addr: 65536, dchat: 4096 + 256 }

const [target, network, appVersion = '0.1.0'] = process.argv.slice(2)
if (target == null || network == null) {
  console.error('usage: client.mjs <target-multiaddr> <network> [app-version]')
  process.exit(2)
}

function fail (msg) {
  console.error(`ERROR ${msg}`)
  process.exit(1)
}

// withTimeout rejects with "<what> timed out" if p does not settle in ms.
function withTimeout (p, ms, what) {
  let timer
  return Promise.race([
    p,
    new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

// findType returns the message type called name anywhere in root.
function findType (ns, name) {
  for (const obj of ns.nestedArray ?? []) {
    if (obj instanceof protobuf.Type && obj.name === name) return obj
    if (obj.nestedArray != null) {
      const t = findType(obj, name)
      if (t != null) return t
    }
  }
  return null
}

// dchatProtoFile finds the .proto under dchat/ that defines DchatMessage.
function dchatProtoFile () {
  const dir = path.join(repo, 'dchat')
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(d, e.name)
    if (e.isDirectory()) return walk(p)
    return e.name.endsWith('.proto') ? [p] : []
  })
  let files
  try {
    files = walk(dir)
  } catch (err) {
    throw new Error(`no dchat .proto: cannot read ${dir}: ${err.message}`)
  }
  const f = files.find((p) => /message\s+DchatMessage\s*\{/.test(readFileSync(p, 'utf8')))
  if (f == null) throw new Error(`no .proto under ${dir} defines DchatMessage`)
  return f
}

// loadProto parses file; imports resolve against the importing file's
// folder, then the repository root.
async function loadProto (file) {
  const root = new protobuf.Root()
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target
    const rel = path.resolve(path.dirname(origin || file), target)
    try { readFileSync(rel); return rel } catch {}
    return path.resolve(repo, target)
  }
  return root.load(file, { keepCase: false })
}

const pbRoot = await loadProto(path.join(repo, 'protocols', 'pb', 'dnode.proto'))
const Version = findType(pbRoot, 'Version')
const Verack = findType(pbRoot, 'Verack')
const PingMessage = findType(pbRoot, 'PingMessage')
const AddrMessage = findType(pbRoot, 'AddrMessage')
const dchatFile = dchatProtoFile()
const DchatMessage = findType(await loadProto(dchatFile), 'DchatMessage')
for (const [n, t] of Object.entries({ Version, Verack, PingMessage, AddrMessage, DchatMessage })) {
  if (t == null) fail(`message ${n} not found in the .proto files`)
}

const proto = (name) => `/dnode/${network}/${name}/1.0.0`
const IDS = {
  version: proto('version'),
  ping: proto('ping'),
  addr: proto('addr'),
  dchat: proto('dchat')
}

const decode = (T, bytes) => T.toObject(T.decode(bytes.subarray()), { longs: String, defaults: true })
const encode = (T, obj) => T.encode(T.fromObject(obj)).finish()

// majorMinor returns "MAJOR.MINOR" of a semver string, or null.
function majorMinor (v) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v ?? '')
  return m == null ? null : `${m[1]}.${m[2]}`
}

let stopping = false
let gotDchat
const dchatSeen = new Promise((resolve) => { gotDchat = resolve })

const node = await createLibp2p({
  addresses: { listen: [] }, // a pure client: dnode never dials back
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { ping: ping(), identify: identify() },
  nodeInfo: { userAgent: 'dnode-jsclient/0.1.0' }
})

// readFrames calls onFrame for every frame of an inbound dnode stream until
// the peer closes it.
async function readFrames (stream, name, onFrame) {
  const lp = lpStream(stream, { maxDataLength: CAP[name] })
  while (true) {
    let buf
    try {
      buf = await lp.read()
    } catch (err) {
      if (stopping || err.name === 'UnexpectedEOFError') return // stream ended
      throw err
    }
    await onFrame(buf)
  }
}

// Our own outgoing ping stream, opened on first use: dnode streams carry
// messages in one direction only, so pongs go on a stream we open.
let outPing = null
function ourPingStream (connection) {
  outPing ??= connection.newStream(IDS.ping).then((s) => lpStream(s, { maxDataLength: CAP.ping }))
  return outPing
}

// Handlers go in before dialing, so identify already lists them and
// before the handshake, so nothing the dnode sends right after it is lost.
const handlers = {
  [IDS.ping]: (stream, connection) => readFrames(stream, 'ping', async (buf) => {
    const m = decode(PingMessage, buf)
    if (m.ping != null) {
      const out = await ourPingStream(connection)
      await out.write(encode(PingMessage, { pong: { nonce: m.ping.nonce } }))
    } else if (m.pong == null) {
      throw new Error('empty PingMessage')
    }
  }),
  [IDS.addr]: (stream) => readFrames(stream, 'addr', async (buf) => { decode(AddrMessage, buf) }),
  [IDS.dchat]: (stream) => readFrames(stream, 'dchat', async (buf) => {
    const m = decode(DchatMessage, buf)
    console.log(`DCHAT ${m.text}`)
    gotDchat()
  })
}
for (const [id, h] of Object.entries(handlers)) {
  await node.handle(id, async (stream, connection) => {
    try {
      await h(stream, connection)
    } catch (err) {
      if (!stopping) fail(`${id}: ${err.message}`)
    }
  })
}

const identified = new Promise((resolve) => {
  node.addEventListener('peer:identify', (evt) => resolve(evt.detail))
})

async function handshake (connection) {
  const stream = await connection.newStream(IDS.version)
  const lp = lpStream(stream, { maxDataLength: CAP.version })
  const observed = connection.remoteAddr.decapsulateCode(421) // without /p2p/
  await lp.write(encode(Version, {
    appName: 'dnode',
    appVersion,
    timestamp: Math.floor(Date.now() / 1000),
    observedAddr: observed.bytes,
    protocols: [IDS.version, IDS.ping, IDS.addr, IDS.dchat]
  }))
  // Steps 2-4 of docs/protocol.md: read Version, write Verack, read
  // Verack; compatibility is judged once both messages are in.
  const theirs = decode(Version, await lp.read())
  await lp.write(encode(Verack, { appName: 'dnode', appVersion }))
  const ackBytes = await lp.read()
  if (ackBytes.byteLength > CAP.verack) throw new Error(`verack of ${ackBytes.byteLength} bytes, cap ${CAP.verack}`)
  const ack = decode(Verack, ackBytes)
  if (theirs.appName !== 'dnode') throw new Error(`peer app ${JSON.stringify(theirs.appName)}, want "dnode"`)
  if (majorMinor(theirs.appVersion) == null || majorMinor(theirs.appVersion) !== majorMinor(appVersion)) {
    throw new Error(`peer version ${theirs.appVersion} incompatible with ours ${appVersion}`)
  }
  if (ack.appName !== theirs.appName || ack.appVersion !== theirs.appVersion) {
    throw new Error(`verack ${ack.appName}/${ack.appVersion} contradicts version ${theirs.appName}/${theirs.appVersion}`)
  }
  await stream.close() // the initiator closes the version stream
  return theirs
}

console.log(`SELF ${node.peerId}`)

const watchdog = setTimeout(() => fail(`no result within ${RUN_MS + 3 * STEP_MS} ms`), RUN_MS + 3 * STEP_MS)
try {
  const ma = multiaddr(target)
  const connection = await withTimeout(node.dial(ma), STEP_MS, 'dial')
  node.addEventListener('connection:close', (evt) => {
    if (evt.detail === connection && !stopping) fail('connection closed by the dnode')
  })

  const rtt = await withTimeout(node.services.ping.ping(ma), STEP_MS, 'libp2p ping')
  console.log(`PING ${rtt}ms`)

  const id = await withTimeout(identified, STEP_MS, 'identify')
  console.log(`IDENTIFY ${id.agentVersion} ${[...id.protocols].sort().join(',')}`)

  const theirs = await withTimeout(handshake(connection), STEP_MS, 'version handshake')
  console.log(`HANDSHAKE OK ${theirs.appName}/${theirs.appVersion}`)

  let timer
  await Promise.race([dchatSeen, new Promise((resolve) => { timer = setTimeout(resolve, RUN_MS) })])
  clearTimeout(timer)
} catch (err) {
  fail(err.message)
}
stopping = true
clearTimeout(watchdog)
await withTimeout(node.stop(), 5000, 'stop').catch((err) => fail(err.message))
process.exit(0)
