package systemd

import "github.com/coreos/go-systemd/v22/journal"

// Kind names one kind of state change. ID is the journal MESSAGE_ID (128 bits,
// lower-case hex, generated once with `systemd-id128 new`), fixed forever so
// `journalctl MESSAGE_ID=...` and failberry.catalog keep working across releases.
type Kind struct {
	// Name is a short lower-case word used on stderr, in /status and in FAILBERRY_KIND.
	Name string
	// ID is the MESSAGE_ID; never change it once released.
	ID string
	// Priority is the syslog priority of the event.
	Priority journal.Priority
	// Flapping marks kinds that can repeat quickly (link and path up/down);
	// Events rate-limits them so a flapping link does not wear out the SD card.
	Flapping bool
}

// The event kinds failberry emits. Each has an entry in failberry.catalog.
var (
	LinkUp            = Kind{Name: "link-up", ID: "bf5914265007478997244ad30c2eaabf", Priority: journal.PriNotice, Flapping: true}
	LinkDown          = Kind{Name: "link-down", ID: "3d216599fc544696a7292addaa60e644", Priority: journal.PriWarning, Flapping: true}
	RecoveryStep      = Kind{Name: "recovery-step", ID: "fd868e7c79df43098891cdcda747b2fc", Priority: journal.PriWarning}
	RecoveryExhausted = Kind{Name: "recovery-exhausted", ID: "ca2ecfe319a74b9fa10bae277c97740f", Priority: journal.PriErr}
	ModemError        = Kind{Name: "modem-error", ID: "4b06c2cdd6914c77bfbd950fcbf01ad1", Priority: journal.PriErr}
	SIMError          = Kind{Name: "sim-error", ID: "54319273b9724f0dac8e9e73f24aac0d", Priority: journal.PriErr}
	RegistrationError = Kind{Name: "registration-error", ID: "9f1714e6865e4dbbb1e42ad19b034a70", Priority: journal.PriWarning}
	ConfigError       = Kind{Name: "config-error", ID: "8a87512ff7644760aa79fe77b14215fe", Priority: journal.PriErr}
	FirewallRepaired  = Kind{Name: "firewall-repaired", ID: "cc7e831294454107a6015b0b16fd34d4", Priority: journal.PriWarning}
	PathDown          = Kind{Name: "path-down", ID: "191333e16c8e4f61b6de666c31049017", Priority: journal.PriWarning, Flapping: true}
	PathUp            = Kind{Name: "path-up", ID: "af80a1c9ba504325ac16b68f11562ce5", Priority: journal.PriNotice, Flapping: true}
	DaemonStarted     = Kind{Name: "daemon-started", ID: "d654b464b9b74a198a84d748731accdc", Priority: journal.PriInfo}
	DaemonStopped     = Kind{Name: "daemon-stopped", ID: "77998fc104f445069a399cd62b8e1c73", Priority: journal.PriInfo}
	CarrierNAT        = Kind{Name: "carrier-nat", ID: "0729a4846ecd49a1ac34956e0b71bbeb", Priority: journal.PriWarning}
	DNSPublished      = Kind{Name: "dns-published", ID: "3735b941458746bb838549f1cc3dc74a", Priority: journal.PriNotice}
	DNSFailed         = Kind{Name: "dns-failed", ID: "bec36ea2e8f749238d642eaae67a655b", Priority: journal.PriWarning}
	// The data meter's: a day's summary, a warning fraction of the cap, the
	// cap reached (its action starts) and the action lifted.
	DataDaily      = Kind{Name: "data-daily", ID: "60f72894f36d43aab0f815e1eedb7926", Priority: journal.PriInfo}
	DataWarning    = Kind{Name: "data-warning", ID: "a0f5b319036947f587375c7a8c234e56", Priority: journal.PriWarning}
	DataCapReached = Kind{Name: "data-cap-reached", ID: "29da89cf1a814949b174bd15495cbec1", Priority: journal.PriWarning}
	DataCapLifted  = Kind{Name: "data-cap-lifted", ID: "4664544ba4ef47cca24eabc10b6c8fe2", Priority: journal.PriNotice}
	OwnTraffic     = Kind{Name: "own-traffic", ID: "ee86b708f97043a78f319a0ff81be257", Priority: journal.PriNotice}
	// Gateway mode's: traffic moved to cellular (the primary failed, or a
	// drill made it look failed) and back to the primary.
	Failover = Kind{Name: "failover", ID: "4f0d3c2be1a84c6f9a4f3c8e2d7b9a15", Priority: journal.PriWarning}
	Failback = Kind{Name: "failback", ID: "b27e5a9d0c3f4e18a6d1f0b4c9e2a733", Priority: journal.PriNotice}
)
