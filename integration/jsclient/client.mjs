// A dnode peer written with js-libp2p, for the cross-implementation
// interop test (integration/interop_test.go). It knows dnode only through
// docs/protocol.md and the .proto files, which it loads at run time.
//
// Usage: node --import ./polyfill-node20.mjs client.mjs <target-multiaddr> <network> [app-version] [--text T]
//
// Output, one line each, on stdout:
//   SELF <peer-id>                       our peer ID, first
//   PING <rtt>ms                         libp2p ping (/ipfs/ping/1.0.0)
//   IDENTIFY <agent> <proto,proto,...>   from the peer:identify event
//   HANDSHAKE OK <app>/<version>         dnode version handshake done
//   RELAY <topic> <data>                 each relay message received, data as
//                                        UTF-8 (\ \n \r escaped), once per id
//   PUBLISHED <id>                       after the first RELAY line: the hex id
//                                        of our own message (topic dchat, --text)
//   BYE closed|sigterm|timeout           why it stops
// After the handshake it stays connected until the dnode closes the
// connection or SIGTERM (exit 0), or RUN_MS pass (exit 0, "BYE timeout");
// it exits 1 on any failure (with "ERROR <message>" on stderr).

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import protobuf from 'protobufjs'

import { DEFAULT_MAX_MESSAGE_SIZE, FRAME_SLACK, Relay } from './relay.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')

const RUN_MS = 30_000 // stay connected this long after the handshake at most
const STEP_MS = 10_000 // dial, ping, identify and handshake deadlines
const TOPIC = 'dchat' // the topic we publish on
const MAX_MESSAGE_SIZE = DEFAULT_MAX_MESSAGE_SIZE // our Hello's max_message_size

// Frame caps, from docs/protocol.md.
const CAP = { version: 4096, verack: 256, ping: 32, addr: 65536, relay: MAX_MESSAGE_SIZE + FRAME_SLACK }

let args
try {
  args = parseArgs({ allowPositionals: true, options: { text: { type: 'string', default: 'hello from js-libp2p' } } })
} catch (err) {
  console.error(`usage: client.mjs <target-multiaddr> <network> [app-version] [--text T]: ${err.message}`)
  process.exit(2)
}
const [target, network, appVersion = '0.1.0'] = args.positionals
if (target == null || network == null || args.positionals.length > 3) {
  console.error('usage: client.mjs <target-multiaddr> <network> [app-version] [--text T]')
  process.exit(2)
}
const text = args.values.text

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
const Frame = findType(await loadProto(path.join(repo, 'relay', 'pb', 'relay.proto')), 'Frame')
for (const [n, t] of Object.entries({ Version, Verack, PingMessage, AddrMessage, Frame })) {
  if (t == null) fail(`message ${n} not found in the .proto files`)
}

const proto = (name) => `/dnode/${network}/${name}/1.0.0`
const IDS = {
  version: proto('version'),
  ping: proto('ping'),
  addr: proto('addr'),
  relay: proto('relay')
}

const decode = (T, bytes) => T.toObject(T.decode(bytes.subarray()), { longs: String, defaults: true })
const encode = (T, obj) => T.encode(T.fromObject(obj)).finish()

// majorMinor returns "MAJOR.MINOR" of a semver string, or null.
function majorMinor (v) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v ?? '')
  return m == null ? null : `${m[1]}.${m[2]}`
}

let stopping = false
let handshakeDone = false
const firstRelay = Promise.withResolvers()
const bye = Promise.withResolvers() // resolves with why we stop

const node = await createLibp2p({
  addresses: { listen: [] }, // a pure client: dnode never dials back
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { ping: ping(), identify: identify() },
  nodeInfo: { userAgent: 'dnode-jsclient/0.1.0' }
})

// readFrames calls onFrame for every frame of an inbound dnode stream until
// the peer closes it. A dnode closing a channel resets its streams before
// it closes the connection: a reset ends the stream here, and the
// connection's close ends the client.
async function readFrames (stream, name, onFrame) {
  const lp = lpStream(stream, { maxDataLength: CAP[name] })
  while (true) {
    let buf
    try {
      buf = await lp.read()
    } catch (err) {
      if (stopping || err.name === 'UnexpectedEOFError' || err.name === 'StreamResetError') return // stream ended
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

// Our own outgoing relay stream, opened right after the handshake; Hello
// is its first frame. Frames go out in the order send is called.
let outRelay = null
function ourRelayStream (connection) {
  outRelay ??= connection.newStream(IDS.relay).then(async (s) => {
    const lp = lpStream(s, { maxDataLength: CAP.relay })
    await lp.write(relay.hello())
    return lp
  })
  return outRelay
}

// printable makes data one printable line: UTF-8 with \, \n and \r escaped.
const printable = (data) => new TextDecoder().decode(data).replace(/[\\\n\r]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r' })[c])

let conn = null // the connection to the dnode
const relay = new Relay({
  Frame,
  self: node.peerId.toMultihash().bytes,
  maxMessageSize: MAX_MESSAGE_SIZE,
  send: async (bytes) => {
    const out = await ourRelayStream(conn)
    await out.write(bytes)
  },
  onMessage: (m, id) => {
    console.log(`RELAY ${m.topic} ${printable(m.data)}`)
    firstRelay.resolve()
  },
  log: (line) => console.error(line)
})

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
  [IDS.relay]: (stream) => readFrames(stream, 'relay', (buf) => relay.receive(buf.subarray()))
}
for (const [id, h] of Object.entries(handlers)) {
  await node.handle(id, async (stream, connection) => {
    try {
      await h(stream, connection)
    } catch (err) {
      // A write racing the dnode's close fails harmlessly: the
      // connection's close event ends the client.
      if (!stopping && connection.status === 'open') fail(`${id}: ${err.message}`)
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
    protocols: [IDS.version, IDS.ping, IDS.addr, IDS.relay]
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

process.on('SIGTERM', () => bye.resolve('sigterm'))

// session runs the client's steps and then waits for a reason to stop.
let linger
async function session () {
  const ma = multiaddr(target)
  const connection = await withTimeout(node.dial(ma), STEP_MS, 'dial')
  conn = connection
  node.addEventListener('connection:close', (evt) => {
    if (evt.detail !== connection || stopping) return
    if (!handshakeDone) fail('connection closed by the dnode before the handshake')
    bye.resolve('closed')
  })

  const rtt = await withTimeout(node.services.ping.ping(ma), STEP_MS, 'libp2p ping')
  console.log(`PING ${rtt}ms`)
  // The graft timeout of docs/protocol.md: 3 RTT + 20 ms, within 50 ms and 1 s.
  relay.graftTimeoutMs = Math.min(Math.max(3 * rtt + 20, 50), 1000)

  const id = await withTimeout(identified, STEP_MS, 'identify')
  console.log(`IDENTIFY ${id.agentVersion} ${[...id.protocols].sort().join(',')}`)

  const theirs = await withTimeout(handshake(connection), STEP_MS, 'version handshake')
  handshakeDone = true
  console.log(`HANDSHAKE OK ${theirs.appName}/${theirs.appVersion}`)
  await withTimeout(ourRelayStream(connection), STEP_MS, 'relay stream and Hello')

  linger = setTimeout(() => bye.resolve('timeout'), RUN_MS)
  await firstRelay.promise
  const msgID = await relay.publish(TOPIC, new TextEncoder().encode(text))
  console.log(`PUBLISHED ${msgID}`)
  return bye.promise
}

const watchdog = setTimeout(() => fail(`no result within ${RUN_MS + 4 * STEP_MS} ms`), RUN_MS + 4 * STEP_MS)
let why
try {
  why = await Promise.race([session(), bye.promise])
} catch (err) {
  fail(err.message)
}
clearTimeout(linger)
stopping = true
relay.close()
console.log(`BYE ${why}`)
clearTimeout(watchdog)
await withTimeout(node.stop(), 5000, 'stop').catch((err) => fail(err.message))
process.exit(0)
