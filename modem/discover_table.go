package modem

import "fmt"

// knownModem is the port layout of a modem whose interfaces are documented.
// For a known modem the table is authoritative: interfaces it does not list
// are RoleAux and are not probed, so a diagnostics port missing from the
// table can never receive AT.
type knownModem struct {
	name  string
	ports map[int]PortRole
}

// Layouts from the vendors' documentation, the kernel's option/qcserial
// drivers and ModemManager's udev rules (ID_MM_PORT_TYPE_*).
var (
	layoutQuectel = map[int]PortRole{0: RoleDiag, 1: RoleNMEA, 2: RoleAT, 3: RoleModem}
	layoutSierra  = map[int]PortRole{0: RoleDiag, 2: RoleNMEA, 3: RoleModem}
	layoutHuawei  = map[int]PortRole{0: RoleModem, 1: RoleDiag, 2: RoleAT}
)

var knownModems = map[string]knownModem{
	// ZTE MF180 after mode switch: ttyUSB2 is the modem (FailberryPi post).
	"19d2:0031": {"ZTE MF180", map[int]PortRole{0: RoleDiag, 1: RoleAux, 2: RoleModem}},
	// Huawei "stick" firmware; HiLink (12d1:14dc) has no serial ports at all.
	"12d1:1001": {"Huawei E1750/E169", layoutHuawei},
	"12d1:1003": {"Huawei E220/E1550", map[int]PortRole{0: RoleModem, 1: RoleAT}},
	"12d1:1436": {"Huawei E173/E1750", layoutHuawei},
	"12d1:1506": {"Huawei E3372 stick", layoutHuawei},
	"1199:68c0": {"Sierra MC73xx/MC74xx", layoutSierra},
	"1199:9071": {"Sierra MC74xx", layoutSierra},
	"1199:9079": {"Sierra EM74xx", layoutSierra},
	"2c7c:0125": {"Quectel EC25", layoutQuectel},
	"2c7c:0121": {"Quectel EC21", layoutQuectel},
	"2c7c:0296": {"Quectel BG96", layoutQuectel},
	"05c6:9215": {"Quectel EC20", layoutQuectel},
}

// huaweiRole maps Huawei's vendor-class interface protocol (low nibble) to a
// role, the scheme ModemManager's Huawei plugin and qcserial's HWI layout use
// for firmware that numbers its interfaces freely.
var huaweiRole = map[int]PortRole{0x1: RoleModem, 0x2: RoleAT, 0x3: RoleDiag, 0x4: RoleNMEA}

// classifyPort fills Role, Diagnostic and Why from the known table or heuristics.
func classifyPort(c *TTYCandidate) {
	c.Role, c.Why = roleOf(*c)
	c.Diagnostic = c.Role == RoleDiag
}

func roleOf(c TTYCandidate) (PortRole, string) {
	vidpid := c.VID + ":" + c.PID
	if k, ok := knownModems[vidpid]; ok {
		r, listed := k.ports[c.Interface]
		if !listed {
			r = RoleAux
		}
		return r, fmt.Sprintf("%s (%s) interface %d: %s port from the known-modem table", k.name, vidpid, c.Interface, roleName(r))
	}
	switch {
	case c.VID == "12d1" && c.Class == 0xff && huaweiRole[c.Protocol&0x0f] != "":
		r := huaweiRole[c.Protocol&0x0f]
		return r, fmt.Sprintf("Huawei vendor interface protocol %#02x: %s port", c.Protocol, roleName(r))
	case c.Driver == "qcserial":
		return qcserialRole(c)
	case c.Driver == "cdc_acm" && c.Class == 0x02 && c.SubClass == 0x02 && c.Protocol >= 0x01 && c.Protocol <= 0x06:
		return RoleModem, fmt.Sprintf("CDC-ACM interface with AT command protocol %d", c.Protocol)
	case (c.Driver == "option" || c.Driver == "sierra") && c.Class == 0xff && c.Interface == 0 && c.SubClass == 0xff && c.Protocol == 0xff:
		return RoleDiag, "interface 0 of a Qualcomm-style vendor-class modem is usually DM/DIAG: not probed"
	}
	return RoleUnknown, fmt.Sprintf("no layout known for %s (%s) interface %d: probed after known modem ports", vidpid, c.Driver, c.Interface)
}

// qcserialRole follows the kernel's qcserial layouts: Gobi 1K/2K put DM/DIAG
// on 0 or 1 and AT on 2 (NMEA on 3); Sierra (SWI) puts DIAG on 0, NMEA on 2
// and AT on 3.
func qcserialRole(c TTYCandidate) (PortRole, string) {
	layout := map[int]PortRole{0: RoleDiag, 1: RoleDiag, 2: RoleModem, 3: RoleNMEA}
	name := "qcserial Gobi layout"
	if c.VID == "1199" {
		layout = layoutSierra
		name = "qcserial Sierra layout"
	}
	r, ok := layout[c.Interface]
	if !ok {
		r = RoleAux
	}
	return r, fmt.Sprintf("%s interface %d: %s port", name, c.Interface, roleName(r))
}

func roleName(r PortRole) string {
	if r == RoleUnknown {
		return "unknown"
	}
	return string(r)
}
