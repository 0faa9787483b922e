// Package sim simulates a USB 3G/4G modem (think ZTE MF180 or Huawei E173) for
// failberry's tests, the qemu bench and `make demo`.
//
// A Modem speaks V.250 / 3GPP 27.007 AT commands on its DTE side (the tty the
// host's driver sees), dials into data mode where it relays bytes to a
// carrier side (where a carrier pppd runs), and can be told to misbehave
// (see Fault) or lose power (PowerOff), so failberry's recovery paths can be
// exercised for real. Everything runs in one event loop (Run); the exported
// methods are safe to call from other goroutines at any time.
package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// maxPending bounds output queued while nobody runs the modem.
const maxPending = 1 << 20

// Modem is one simulated modem with its SIM. Create it with New.
type Modem struct {
	// OnReboot, if set (before Run), is called after AT+CFUN=1,1 reset the
	// modem; the bench uses it to re-enumerate the emulated USB device. It
	// runs on the modem's goroutine, outside its lock.
	OnReboot func()

	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	mu  sync.Mutex
	rng *rand.Rand
	sim simCard
	// power and faults
	powered, booted bool
	bootAt          time.Time
	fault           Fault
	calls           int
	v               volatile
	nextURC         time.Time
	dteOut, carOut  []byte
	rebooted        bool
	// bytes thrown away while hung or off, from the DTE and the carrier
	droppedDTE, droppedCarrier int
	tr                         transcript
}

// simCard is the state a real SIM keeps across power loss.
type simCard struct {
	pin, puk         string
	pinLeft, pukLeft int
	pukRequired      bool
	blocked          bool
	pinTries         int
	locks            int // times a PIN was asked for (State.SIMLocks)
	pinRefused       int // AT+CPIN= commands refused (State.PINRefused)
}

// volatile is everything a power cut or reset forgets.
type volatile struct {
	echo, verbose, quiet bool
	cmee                 int
	regN                 map[string]int
	lastStat             int
	cfun                 int
	simReady             bool
	regStart             time.Time
	contexts             map[int]pdpContext
	line                 []byte
	lineOverflow         bool
	lastCR               bool
	pending              *pendingCmd
	callUp, online       bool
	lastDTE              time.Time
	plus                 int
	s12                  int // escape guard time in fiftieths of a second; -1: cfg.GuardTime
	escapeAt, termAt     time.Time
	up, down             pppScanner
	bytesUp, bytesDown   int
	connectAt            time.Time     // the current call's CONNECT
	firstLCP             time.Duration // CONNECT to the DTE's first LCP frame; 0 until one
}

type pdpContext struct{ pdpType, apn string }

// pendingCmd is a command whose final result comes later (ATD, AT+COPS=?).
type pendingCmd struct {
	at   time.Time
	done func(now time.Time)
}

// State is a snapshot of the modem for tests and the control socket.
type State struct {
	Powered         bool  `json:"powered"`
	Booted          bool  `json:"booted"`
	Online          bool  `json:"online"`  // in data mode
	CallUp          bool  `json:"call_up"` // a call exists (online or escaped with +++)
	Registered      bool  `json:"registered"`
	RegStat         int   `json:"reg_stat"`
	PINAttemptsLeft int   `json:"pin_attempts_left"`
	PUKRequired     bool  `json:"puk_required"`
	Fault           Fault `json:"fault"`
	Calls           int   `json:"calls"`     // CONNECTs so far
	PINTries        int   `json:"pin_tries"` // AT+CPIN= commands received
	// SIMLocks counts the times a PIN-locked SIM asked for its PIN (each
	// boot, each FaultPINAgain): more PINTries than that is a PIN sent
	// unasked.
	SIMLocks int `json:"sim_locks"`
	// PINRefused counts the AT+CPIN= commands the SIM refused (wrong PIN,
	// no SIM, already unlocked).
	PINRefused int  `json:"pin_refused"`
	Echo       bool `json:"echo"`
	CFUN       int  `json:"cfun"`
	BytesUp    int  `json:"bytes_up"`   // dte -> carrier in the current call
	BytesDown  int  `json:"bytes_down"` // carrier -> dte in the current call
	// FirstLCP is the time from the current call's CONNECT to the first
	// LCP frame from the DTE: how long the dialler's pppd left the line
	// silent (0 until that frame).
	FirstLCP time.Duration `json:"first_lcp_ns"`
}

// New returns a powered modem that finishes booting BootDelay from now.
func New(cfg Config) *Modem {
	cfg = cfg.withDefaults()
	m := &Modem{
		cfg:   cfg,
		log:   cfg.Logger,
		kick:  make(chan struct{}, 1),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		fault: FaultNone,
		sim:   simCard{pin: cfg.PIN, puk: cfg.PUK, pinLeft: 3, pukLeft: 10},
		tr:    transcript{max: 500},
	}
	now := time.Now()
	m.resetVolatile()
	m.powered = true
	m.bootAt = now.Add(cfg.BootDelay)
	m.tick(now)
	return m
}

// resetVolatile forgets everything a power cut or ATZ-level reset loses.
func (m *Modem) resetVolatile() {
	m.v = volatile{
		echo: true, verbose: true, cfun: 1, lastStat: -1, s12: -1,
		regN:     map[string]int{},
		contexts: map[int]pdpContext{},
		simReady: m.sim.pin == "" && !m.sim.pukRequired && !m.sim.blocked,
	}
}

// SetFault switches the fault being played; it takes effect immediately.
func (m *Modem) SetFault(f Fault) {
	m.mu.Lock()
	defer m.wake()
	defer m.mu.Unlock()
	if f == "" {
		f = FaultNone
	}
	if f == m.fault {
		return
	}
	m.log.Info("fault", "from", m.fault, "to", f)
	m.tr.add("** fault " + string(f))
	m.fault = f
	switch f {
	case FaultCarrierDrop, FaultSIMRemoved:
		if m.v.callUp {
			m.hangup(time.Now(), "fault "+string(f), true)
		}
	case FaultSlowRegistration:
		m.networkLost(time.Now(), f)
	case FaultPINAgain:
		m.simReset(time.Now())
	}
}

// SetConnectDelay changes the time from ATD to CONNECT for the calls dialled
// from now on: a network slow to activate the data context.
func (m *Modem) SetConnectDelay(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg.ConnectDelay = max(d, 0)
}

// networkLost drops a call in progress and starts registration over.
func (m *Modem) networkLost(now time.Time, f Fault) {
	if m.v.callUp {
		m.hangup(now, "fault "+string(f), true)
	}
	if !m.v.regStart.IsZero() {
		m.v.regStart = now
	}
}

// simReset is the SIM restarting under a running modem: it forgets its
// unlock, so a PIN-locked SIM asks for the PIN again, and the modem loses
// its registration (and any call) until the SIM is ready.
func (m *Modem) simReset(now time.Time) {
	m.networkLost(now, FaultPINAgain)
	if m.sim.pin == "" || !m.booted {
		return
	}
	m.v.simReady = false
	m.v.regStart = time.Time{}
	m.sim.locks++
}

// DropDTR is the host dropping DTR, which the emulated serial line cannot
// carry: with &D2 (every dialer's setting) a call in progress ends with NO
// CARRIER, as when a dialer's pppd closes the tty. The bench calls it once a
// dialer has exited, so the next run starts from an idle modem whatever way
// the last one left.
func (m *Modem) DropDTR() {
	m.mu.Lock()
	defer m.wake()
	defer m.mu.Unlock()
	if m.v.callUp && m.powered {
		m.hangup(time.Now(), "DTR dropped", true)
	}
}

// PowerOff cuts the power: the modem answers nothing and passes nothing, and
// forgets all volatile state (echo, contexts, PIN unlock, call,
// registration). The SIM keeps its PIN attempt counter, like a real one.
// Firmware faults (hang, off-bus, garbage) are cleared, as a real power
// cycle cures them; the SIM's and the network's (sim-removed, reg-denied,
// blackhole) stay.
func (m *Modem) PowerOff() {
	m.mu.Lock()
	defer m.wake()
	defer m.mu.Unlock()
	if !m.powered {
		return
	}
	m.log.Info("power off")
	m.tr.add("** power off")
	m.dteOut, m.carOut = nil, nil
	m.powerCycle(false)
	if m.fault.firmware() {
		// A crashed firmware is exactly what a power cycle cures.
		m.log.Info("fault cleared by power loss", "fault", m.fault)
		m.tr.add("** fault " + string(m.fault) + " cleared by power loss")
		m.fault = FaultNone
	}
}

// powerCycle drops all volatile state; on=true starts booting again.
func (m *Modem) powerCycle(on bool) {
	if m.v.callUp {
		m.tr.add(m.callSummary("power loss"))
		m.endSession()
	}
	m.powered, m.booted = on, false
	m.resetVolatile()
	m.bootAt = time.Now().Add(m.cfg.BootDelay)
}

// PowerOn restores power if it was off; the modem answers after BootDelay.
func (m *Modem) PowerOn() {
	m.mu.Lock()
	defer m.wake()
	defer m.mu.Unlock()
	if m.powered {
		return
	}
	m.log.Info("power on", "boot_delay", m.cfg.BootDelay)
	m.tr.add("** power on")
	m.powerCycle(true)
	m.tick(time.Now())
}

// Snapshot returns the current state.
func (m *Modem) Snapshot() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	stat := m.regStat(now)
	return State{
		Powered: m.powered, Booted: m.booted, Online: m.v.online, CallUp: m.v.callUp,
		Registered: stat == 1 || stat == 5, RegStat: stat,
		PINAttemptsLeft: m.sim.pinLeft, PUKRequired: m.sim.pukRequired,
		Fault: m.fault, Calls: m.calls, PINTries: m.sim.pinTries,
		SIMLocks: m.sim.locks, PINRefused: m.sim.pinRefused,
		Echo: m.v.echo, CFUN: m.v.cfun, BytesUp: m.v.bytesUp, BytesDown: m.v.bytesDown,
		FirstLCP: m.v.firstLCP,
	}
}

// Transcript returns the last lines exchanged, timestamped, oldest first.
// Data-mode traffic appears as one summary line per call.
func (m *Modem) Transcript() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tr.String()
}

func (m *Modem) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

type chunk struct {
	b   []byte
	err error
}

func readLoop(ctx context.Context, r io.Reader, ch chan<- chunk) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			select {
			case ch <- chunk{b: slices.Clone(buf[:n])}:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			select {
			case ch <- chunk{err: err}:
			case <-ctx.Done():
			}
			return
		}
	}
}

// Run serves the modem until ctx ends (returning nil) or reading or writing
// dte fails. dte is the modem's tty side; carrier is the network side that
// data mode relays to (nil: data goes nowhere). If the carrier fails, calls
// drop and carrier bytes stop, but the modem keeps answering. The caller
// closes dte and carrier after Run returns, which also ends Run's readers.
// Run may be called again (one at a time) with new connections; the modem
// keeps its state.
func (m *Modem) Run(ctx context.Context, dte io.ReadWriter, carrier io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dteCh := make(chan chunk, 16)
	go readLoop(ctx, dte, dteCh)
	var carCh chan chunk
	if carrier != nil {
		carCh = make(chan chunk, 16)
		go readLoop(ctx, carrier, carCh)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		now := time.Now()
		m.tick(now)
		next := m.nextDeadline(now)
		toDTE, toCar, reboot := m.dteOut, m.carOut, m.rebooted
		m.dteOut, m.carOut, m.rebooted = nil, nil, false
		var cuts []int
		if m.fault == FaultPartialLines && !m.v.online && len(toDTE) > 0 {
			cuts = m.fragments(len(toDTE))
		}
		m.mu.Unlock()
		if err := writeFragments(ctx, dte, toDTE, cuts); err != nil {
			return fmt.Errorf("writing to dte: %w", err)
		}
		if len(toCar) > 0 && carrier != nil {
			if _, err := carrier.Write(toCar); err != nil {
				m.carrierLost(err)
				carrier, carCh = nil, nil
			}
		}
		if reboot && m.OnReboot != nil {
			m.OnReboot()
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case c := <-dteCh:
			if c.err != nil {
				return fmt.Errorf("reading from dte: %w", c.err)
			}
			m.mu.Lock()
			m.fromDTE(time.Now(), c.b)
			m.mu.Unlock()
		case c := <-carCh:
			if c.err != nil {
				m.carrierLost(c.err)
				carrier, carCh = nil, nil
				continue
			}
			m.mu.Lock()
			m.fromCarrier(c.b)
			m.mu.Unlock()
		case <-timer.C:
		case <-m.kick:
		}
	}
}

// carrierLost drops the call when the network side goes away.
func (m *Modem) carrierLost(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log.Warn("carrier side failed", "err", err)
	m.tr.add("** carrier side failed: " + err.Error())
	if m.v.callUp {
		m.hangup(time.Now(), "carrier lost", true)
	}
}

// nextDeadline is the earliest moment tick has something to do.
func (m *Modem) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	consider := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if m.powered && !m.booted {
		consider(m.bootAt)
	}
	if !m.v.regStart.IsZero() {
		if t := m.v.regStart.Add(m.registrationDelay()); t.After(now) {
			consider(t)
		}
	}
	if m.v.pending != nil {
		consider(m.v.pending.at)
	}
	consider(m.v.escapeAt)
	consider(m.v.termAt)
	consider(m.nextURC)
	return next
}

// tick runs everything whose time has come.
func (m *Modem) tick(now time.Time) {
	if m.powered && !m.booted && !now.Before(m.bootAt) {
		m.boot(now)
	}
	if !m.booted {
		return
	}
	if p := m.v.pending; p != nil && !now.Before(p.at) {
		m.v.pending = nil
		p.done(now)
	}
	if !m.v.escapeAt.IsZero() && !now.Before(m.v.escapeAt) {
		m.escape(now)
	}
	if !m.v.termAt.IsZero() && !now.Before(m.v.termAt) {
		m.v.termAt = time.Time{}
		m.hangup(now, "DTE hung up (LCP Terminate-Request, then silence)", true)
	}
	m.regChanged(now)
	m.randomURC(now)
}

// boot finishes booting: the modem answers from now on.
func (m *Modem) boot(now time.Time) {
	m.booted = true
	m.log.Info("booted")
	m.tr.add("** booted")
	if !m.v.simReady && m.sim.pin != "" {
		m.sim.locks++
	}
	if m.v.simReady && m.v.cfun == 1 {
		m.v.regStart = now
	}
	m.v.lastStat = m.regStat(now)
	m.scheduleURC(now)
}

// silent reports whether the modem must neither answer nor relay.
func (m *Modem) silent() bool { return !m.powered || !m.booted || m.fault.silent() }

// emitRaw queues bytes for the DTE unless the modem is silent.
func (m *Modem) emitRaw(b []byte) {
	if m.silent() || len(m.dteOut)+len(b) > maxPending {
		return
	}
	m.dteOut = append(m.dteOut, b...)
}

// toCarrier queues bytes for the network side unless the modem is silent.
func (m *Modem) toCarrier(b []byte) {
	if m.silent() || len(m.carOut)+len(b) > maxPending {
		return
	}
	m.carOut = append(m.carOut, b...)
}

// guardTime is the escape's guard time: S12 when set, else the config's.
func (m *Modem) guardTime() time.Duration {
	if m.v.s12 < 0 {
		return m.cfg.GuardTime
	}
	return time.Duration(m.v.s12) * time.Second / 50
}
