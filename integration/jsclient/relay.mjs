// The relay protocol (/dnode/<network>/relay/1.0.0) as a leaf node with
// one link: written from the "Relay" section of docs/protocol.md and
// relay/pb/relay.proto (loaded at run time by client.mjs).
//
// A leaf relays nothing onward (its only link is the one every message
// came on), so it keeps no trees beyond its own origin's and no fetch
// sources beyond its one peer. What it does:
//   - sends Hello first (every topic, its max_message_size); no Digest
//     (its history is empty when the channel opens);
//   - requires the peer's Hello as the peer's first frame;
//   - Digest: asks (IWant) for every listed id it lacks (catch-up);
//   - Message: computes the id, delivers a new one once (drop rules of
//     the spec applied), answers an unasked duplicate with Prune;
//   - IHave of a message it lacks: Graft{fetch} after the graft timeout;
//   - Offer of a message it lacks: IWant at once;
//   - IWant and Graft{fetch}: sends the messages it has;
//   - Graft and Prune: make its link eager or lazy for the trees of the
//     listed messages (only its own origin's tree matters to a leaf);
//   - publish: pushes its message on an eager link, announces it (IHave)
//     on a lazy one, offers it when over eager_max_size.

import { createHash } from 'node:crypto'

// Constants of docs/protocol.md ("Relay").
export const ID_DOMAIN = 'dnode/relay/id/v1\x00'
export const DEFAULT_MAX_MESSAGE_SIZE = 1 << 20 // a Hello's 0
export const FRAME_SLACK = 64 << 10 // a frame's cap is max_message_size plus this
const SHORT_LEN = 8
const MAX_IDS = 4096 // short ids per frame; topics per Hello
const MAX_TOPIC = 256
const MAX_HOPS = 16
const EAGER_MAX_SIZE = 16 << 10
const HISTORY_AGE_NS = 10n * 60n * 1_000_000_000n
const FUTURE_SKEW_NS = 60n * 1_000_000_000n

const utf8 = new TextEncoder()

// uvarint returns n (a non-negative safe integer) as an unsigned LEB128
// varint.
function uvarint (n) {
  const out = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

// messageId returns the 32-byte id of a message:
// SHA-256("dnode/relay/id/v1" 0x00 || uvarint(len(topic)) || topic ||
// uvarint(len(origin)) || origin || uint64_big_endian(time) || data).
export function messageId (topic, origin, time, data) {
  const t = utf8.encode(topic)
  const tb = Buffer.alloc(8)
  tb.writeBigUInt64BE(time)
  return createHash('sha256')
    .update(ID_DOMAIN, 'latin1')
    .update(uvarint(t.length)).update(t)
    .update(uvarint(origin.length)).update(origin)
    .update(tb)
    .update(data)
    .digest()
}

export const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

// shorts splits a field of concatenated short ids into hex strings; a
// bad length is the peer's violation.
function shorts (field, b) {
  if (b.byteLength % SHORT_LEN !== 0 || b.byteLength / SHORT_LEN > MAX_IDS) {
    throw new Error(`relay: ${field}: ${b.byteLength} bytes is not a list of at most ${MAX_IDS} short ids`)
  }
  const out = []
  for (let i = 0; i < b.byteLength; i += SHORT_LEN) out.push(hex(b.subarray(i, i + SHORT_LEN)))
  return out
}

const pack = (list) => Buffer.concat(list.map((s) => Buffer.from(s, 'hex')))
const treeKey = (topic, origin) => `${topic}\x00${hex(origin)}`

// Relay is the relay state of one channel. send(bytes) writes one encoded
// Frame on our outgoing relay stream (in call order); onMessage(m, id) is
// called once per delivered message (m: topic, origin, time, data, hops).
// Frames from the peer go to receive, one at a time. close stops its
// timers.
export class Relay {
  constructor ({ Frame, self, send, onMessage, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE, graftTimeoutMs = 100, log = () => {} }) {
    Object.assign(this, { Frame, self, send, onMessage, maxMessageSize, graftTimeoutMs, log })
    this.msgs = new Map() // short id → { m, id, dist, key }: every message we have
    this.asked = new Set() // short ids we asked for (IWant, Graft): their copies are answers
    this.waiting = new Map() // short id → graft timer, for announced messages we lack
    this.lazy = new Set() // tree keys for which our link is lazy (pruned)
    this.peer = null // the peer's Hello: { topics: Set | null, max }
    this.lastTime = 0n
    this.closed = false
  }

  encode (obj) { return this.Frame.encode(this.Frame.fromObject(obj)).finish() }

  // hello returns our Hello frame: every topic, our max_message_size.
  hello () { return this.encode({ hello: { topics: [], maxMessageSize: BigInt(this.maxMessageSize) } }) }

  // receive handles one frame of the peer's relay stream; it throws on a
  // violation of the protocol by the peer.
  async receive (buf) {
    const f = this.Frame.toObject(this.Frame.decode(buf), { longs: BigInt, defaults: true, oneofs: true })
    if (f.body == null) throw new Error('relay: frame with no body')
    if (this.peer == null && f.body !== 'hello') throw new Error(`relay: first frame is ${f.body}, not Hello`)
    const b = f[f.body]
    switch (f.body) {
      case 'hello': return this.onHello(b)
      case 'message': return this.onMessageFrame(b)
      case 'digest': return this.fetch(shorts('digest', b.ids))
      case 'ihave': return this.onIHave(b)
      case 'offer': return this.onOffer(b)
      case 'iwant': return this.serve(shorts('iwant', b.ids))
      case 'graft': return this.onGraft(b)
      case 'prune': return this.onPrune(b)
      default: throw new Error(`relay: unknown frame body ${f.body}`)
    }
  }

  onHello (h) {
    if (h.topics.length > MAX_IDS) throw new Error(`relay: hello with ${h.topics.length} topics`)
    for (const t of h.topics) checkTopic(t)
    const max = h.maxMessageSize === 0n ? DEFAULT_MAX_MESSAGE_SIZE : Number(h.maxMessageSize)
    this.peer = { topics: h.topics.length === 0 ? null : new Set(h.topics), max }
  }

  // accepts reports whether the peer takes a message of topic with size
  // bytes of data.
  accepts (topic, size) {
    return (this.peer.topics == null || this.peer.topics.has(topic)) && size <= this.peer.max
  }

  async onMessageFrame (m) {
    checkTopic(m.topic)
    if (m.origin.byteLength === 0) throw new Error('relay: message without origin')
    if (m.data.byteLength === 0) throw new Error('relay: message with empty data')
    if (m.data.byteLength > this.maxMessageSize) throw new Error(`relay: message of ${m.data.byteLength} bytes, limit ${this.maxMessageSize}`)
    const id = messageId(m.topic, m.origin, m.time, m.data)
    const short = hex(id.subarray(0, SHORT_LEN))
    this.stopWaiting(short)
    if (this.msgs.has(short)) {
      if (!this.asked.has(short)) { // pushed unasked: our link leaves its tree
        this.lazy.add(treeKey(m.topic, m.origin))
        await this.send(this.encode({ prune: { ids: pack([short]) } }))
      }
      return
    }
    const now = nowNs()
    if (m.hops + 1 > MAX_HOPS || m.time < now - HISTORY_AGE_NS || m.time > now + FUTURE_SKEW_NS) {
      this.log(`relay: dropped ${hex(id)}: hops ${m.hops}, time ${m.time}`)
      return
    }
    this.msgs.set(short, { m, id, dist: m.hops + 1, key: treeKey(m.topic, m.origin) })
    this.onMessage(m, hex(id))
  }

  // fetch asks with IWant for the listed messages we neither have nor
  // asked for already.
  async fetch (list) {
    const want = list.filter((s) => !this.msgs.has(s) && !this.asked.has(s))
    for (let i = 0; i < want.length; i += MAX_IDS) {
      const part = want.slice(i, i + MAX_IDS)
      for (const s of part) { this.asked.add(s); this.stopWaiting(s) }
      await this.send(this.encode({ iwant: { ids: pack(part) } }))
    }
  }

  onIHave (ih) {
    const list = shorts('ihave', ih.ids)
    if (ih.hops.byteLength !== list.length) throw new Error(`relay: ihave: ${ih.hops.byteLength} hops for ${list.length} ids`)
    for (const s of list) {
      if (this.msgs.has(s) || this.asked.has(s) || this.waiting.has(s)) continue
      // It may still come along the tree: graft the announcer after the
      // graft timeout (we have no other announcer to try next).
      this.waiting.set(s, setTimeout(() => {
        this.waiting.delete(s)
        if (this.closed || this.msgs.has(s) || this.asked.has(s)) return
        this.asked.add(s)
        this.send(this.encode({ graft: { fetch: pack([s]) } })).catch((err) => this.log(`relay: graft: ${err.message}`))
      }, this.graftTimeoutMs))
    }
  }

  async onOffer (of) {
    const list = shorts('offer', of.ids)
    if (of.hops.byteLength !== list.length || of.sizes.length !== list.length) {
      throw new Error(`relay: offer: ${of.hops.byteLength} hops and ${of.sizes.length} sizes for ${list.length} ids`)
    }
    // Too large for us: ignored; the rest is asked for at once.
    await this.fetch(list.filter((s, i) => of.sizes[i] <= BigInt(this.maxMessageSize)))
  }

  // serve sends the listed messages we have, with hops = our distance.
  async serve (list) {
    for (const s of list) {
      const e = this.msgs.get(s)
      if (e == null || !this.accepts(e.m.topic, e.m.data.byteLength)) continue // a miss: nothing to send
      await this.send(this.encode({ message: { ...e.m, hops: e.dist } }))
    }
  }

  async onGraft (g) {
    const fetch = shorts('graft fetch', g.fetch)
    for (const s of [...shorts('graft join', g.join), ...fetch]) {
      const e = this.msgs.get(s)
      if (e != null) this.lazy.delete(e.key)
    }
    await this.serve(fetch)
  }

  onPrune (p) {
    for (const s of shorts('prune', p.ids)) {
      const e = this.msgs.get(s)
      if (e != null) this.lazy.add(e.key)
    }
  }

  stopWaiting (s) {
    const t = this.waiting.get(s)
    if (t != null) { clearTimeout(t); this.waiting.delete(s) }
  }

  // publish sends data (a Uint8Array) as a new message of topic from us,
  // and returns its id in hex. It needs the peer's Hello.
  async publish (topic, data) {
    checkTopic(topic)
    if (this.peer == null) throw new Error('relay: publish before the peer\'s Hello')
    if (data.byteLength === 0 || data.byteLength > this.maxMessageSize) throw new Error(`relay: publish ${data.byteLength} bytes`)
    if (!this.accepts(topic, data.byteLength)) throw new Error(`relay: the peer does not take ${data.byteLength} bytes on topic ${topic}`)
    const now = nowNs()
    const time = now > this.lastTime ? now : this.lastTime + 1n // strictly increasing per origin
    this.lastTime = time
    const m = { topic, origin: this.self, time, data, hops: 0 }
    const id = messageId(topic, this.self, time, data)
    const short = hex(id.subarray(0, SHORT_LEN))
    const e = { m, id, dist: 0, key: treeKey(topic, this.self) }
    this.msgs.set(short, e)
    if (data.byteLength > EAGER_MAX_SIZE) {
      await this.send(this.encode({ offer: { ids: pack([short]), hops: Uint8Array.of(0), sizes: [BigInt(data.byteLength)] } }))
    } else if (this.lazy.has(e.key)) {
      await this.send(this.encode({ ihave: { ids: pack([short]), hops: Uint8Array.of(0) } }))
    } else {
      await this.send(this.encode({ message: m }))
    }
    return hex(id)
  }

  close () {
    this.closed = true
    for (const t of this.waiting.values()) clearTimeout(t)
    this.waiting.clear()
  }
}

// checkTopic throws unless t is 1 to 256 bytes (of UTF-8: a proto3
// string, which a dnode never sends invalid).
function checkTopic (t) {
  const n = utf8.encode(t).byteLength
  if (n === 0 || n > MAX_TOPIC) throw new Error(`relay: bad topic ${JSON.stringify(t)}`)
}

// nowNs returns the clock in unix nanoseconds (millisecond resolution).
function nowNs () { return BigInt(Date.now()) * 1_000_000n }
