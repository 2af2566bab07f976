// Node 20 lacks Promise.withResolvers (Node >= 22), which js-libp2p v3's
// dependencies (it-queue via mortice/@libp2p/peer-store) call. Load this
// file first: node --import ./polyfill-node20.mjs client.mjs ...
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
