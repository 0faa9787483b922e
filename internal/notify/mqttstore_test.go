package notify

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestCopyStore: what Get returns is the stored message, not the stored
// packet: marking it a duplicate leaves the stored one alone.
func TestCopyStore(t *testing.T) {
	s := newCopyStore()
	s.Open()
	defer s.Close()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Payload, p.Qos, p.MessageID = "failberry/state", []byte("online"), 1, 7
	s.Put("o.7", p)
	got, ok := s.Get("o.7").(*packets.PublishPacket)
	if !ok || got == p || got.TopicName != p.TopicName || string(got.Payload) != "online" || got.MessageID != 7 || got.Qos != 1 {
		t.Fatalf("Get = %+v, want a copy of %+v", got, p)
	}
	got.Dup = true
	if again := s.Get("o.7").(*packets.PublishPacket); again.Dup || again == got {
		t.Error("marking a copy a duplicate changed the stored message")
	}
	if keys := s.All(); len(keys) != 1 || keys[0] != "o.7" {
		t.Errorf("All = %q, want [o.7]", keys)
	}
	s.Del("o.7")
	if s.Get("o.8") != nil {
		t.Error("a missing key gave a packet")
	}
}
