// Package modem talks to a USB 3G/4G modem over its AT command port and brings
// it to the point where pppd can take over the line.
//
// It replaces wvdial's Init strings with code that understands what the modem
// says: an [Engine] sends one AT command at a time and reads the reply
// synchronously, byte by byte, so it never consumes bytes after a final result
// code (after CONNECT they belong to pppd) and never needs a goroutine reading
// the port in the background. Unsolicited result codes (RING, +CREG:, ^RSSI:, ...)
// are split off to a callback at any moment. [Bringup] wakes the modem, unlocks
// the SIM without ever retrying a PIN the SIM rejected (see [PINStore]), waits
// for packet registration and defines the PDP context; [Dial] sends ATD and
// returns at CONNECT, leaving the line to pppd through [OpenDialFile].
//
// Parsing is kept apart from I/O: the Parse* functions take single response
// lines, and the tests replay modem transcripts from testdata/transcripts.
package modem
