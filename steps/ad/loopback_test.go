package ad

import (
	"net"
	"strings"
	"testing"
)

// The test DC picks a loopback address whose ports are all free, so that
// the suite runs beside a developer's own DC (which holds 127.0.0.1:636,
// say) or another run's: a port taken on an address moves it to the next,
// over TCP as over UDP, and a port taken on every address is an error that
// says so.
func TestFreeLoopbackSkipsTakenPorts(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tport := tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenPacket("udp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	uport := udp.LocalAddr().(*net.UDPAddr).Port
	ip, err := freeLoopback([]int{tport}, []int{uport})
	if err != nil || ip == "127.0.0.2" || ip == "127.0.0.3" || !strings.HasPrefix(ip, "127.0.0.") {
		t.Fatalf("freeLoopback with a TCP port taken on .2 and a UDP port on .3: %q, %v", ip, err)
	}
	all, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if ip, err := freeLoopback([]int{all.Addr().(*net.TCPAddr).Port}, nil); err == nil {
		t.Fatalf("a port taken on every address: freeLoopback returned %s", ip)
	}
}
