package sessions

import (
	"errors"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrSeedExists is returned when a seed that is already configured is
// added again.
var ErrSeedExists = errors.New("seed already configured")

// The live seed list. It starts as net.seeds and changes at run time
// through SeedSync.Add and SeedSync.Remove; every session reads it here,
// so a seed added at run time is a seed everywhere at once (no manual or
// direct channel to it, never stored in a host list). Guarded by
// Manager.seedMu.

// initSeeds loads net.seeds, without our own ID.
func (m *Manager) initSeeds() {
	for _, a := range m.net.Seeds {
		if ai, err := peer.AddrInfoFromP2pAddr(a); err == nil && ai.ID != m.host.ID() {
			m.seeds = append(m.seeds, *ai)
		}
	}
}

// Seeds returns the seeds, in the order they were configured or added.
func (m *Manager) Seeds() []peer.AddrInfo {
	m.seedMu.RLock()
	defer m.seedMu.RUnlock()
	return slices.Clone(m.seeds)
}

// IsSeed reports whether p is one of the seeds.
func (m *Manager) IsSeed(p peer.ID) bool {
	m.seedMu.RLock()
	defer m.seedMu.RUnlock()
	return m.seedIndexLocked(p) >= 0
}

func (m *Manager) seedIndexLocked(p peer.ID) int {
	return slices.IndexFunc(m.seeds, func(ai peer.AddrInfo) bool { return ai.ID == p })
}

// addSeed appends ai to the seeds and registers it as a seed in the
// address book. It fails with ErrSelf or ErrSeedExists.
func (m *Manager) addSeed(ai peer.AddrInfo) error {
	if ai.ID == m.host.ID() {
		return ErrSelf
	}
	m.seedMu.Lock()
	if m.seedIndexLocked(ai.ID) >= 0 {
		m.seedMu.Unlock()
		return ErrSeedExists
	}
	m.seeds = append(m.seeds, ai)
	m.seedMu.Unlock()
	if m.cfg.Book != nil {
		m.cfg.Book.AddSeed(ai.ID)
	}
	return nil
}

// removeSeed drops peer p from the seeds and from the address book's
// seeds. It reports whether p was a seed.
func (m *Manager) removeSeed(p peer.ID) bool {
	m.seedMu.Lock()
	i := m.seedIndexLocked(p)
	if i >= 0 {
		m.seeds = slices.Delete(m.seeds, i, i+1)
	}
	m.seedMu.Unlock()
	if i < 0 {
		return false
	}
	if m.cfg.Book != nil {
		m.cfg.Book.RemoveSeed(p)
	}
	return true
}
