package mysqlgw

import "time"

// followWindow is how long transfer_health waits after a change of health
// before it publishes: changes within it share one serial and one NOTIFY.
// Short against the 1 s a secondary may lag mysqlgw, long enough to gather
// the changes one gateway's failure makes in every region and alias it
// serves.
const followWindow = 100 * time.Millisecond

// healthChanged is the health checker's onChange with transfer_health: it
// publishes the active answers a followWindow later, once for every change
// that came meanwhile.
func (g *MysqlGW) healthChanged() {
	g.followMu.Lock()
	defer g.followMu.Unlock()
	if g.followPending {
		return
	}
	g.followPending = true
	time.AfterFunc(followWindow, func() {
		g.followMu.Lock()
		g.followPending = false // a change from here on is published next time
		g.followMu.Unlock()
		if !g.started.Load() {
			return
		}
		if moved := follow(g.answers.Load()); len(moved) > 0 {
			g.notify("", moved)
		}
	})
}

// publishSerials sets the served-serial gauge of every zone of built,
// without transfer_health: the table's serial.
func publishSerials(built *answers) {
	for z, info := range built.apex {
		servedSerial.WithLabelValues(z).Set(float64(info.current().soa.Serial))
	}
}

// allZones are the instance's zones, forward and reverse.
func (g *MysqlGW) allZones() []string {
	return append(append([]string(nil), g.opt.zones...), g.opt.reverse...)
}
