package notify

import (
	"bytes"
	"sync"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is an in-memory paho store that keeps messages as bytes and
// hands out a fresh packet on each Get. paho v1.5.1's memory store keeps
// the packet itself: after a reconnect paho re-sends the in-flight messages
// of its store, marking each a duplicate and serialising it, while the old
// connection's writer may still be serialising the same packet (Write
// mutates it), a data race the race detector reports. Encoding at Put, when
// the packet is new to paho, and decoding at Get shares nothing.
type copyStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newCopyStore() *copyStore { return &copyStore{m: map[string][]byte{}} }

func (s *copyStore) Open()  {}
func (s *copyStore) Close() {}

func (s *copyStore) Reset() {
	s.mu.Lock()
	s.m = map[string][]byte{}
	s.mu.Unlock()
}

// Put keeps the message; one that cannot be encoded is not kept (paho then
// does not re-send it after a reconnect; the state publisher re-sends what
// the broker did not acknowledge anyway).
func (s *copyStore) Put(key string, p packets.ControlPacket) {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		return
	}
	s.mu.Lock()
	s.m[key] = b.Bytes()
	s.mu.Unlock()
}

// Get decodes a fresh packet; nil when there is none, which paho skips.
func (s *copyStore) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	b, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, err := packets.ReadPacket(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return p
}

func (s *copyStore) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	return keys
}

func (s *copyStore) Del(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}
