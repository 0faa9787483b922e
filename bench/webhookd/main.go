// Command webhookd is the webhook receiver on the bench's internet side
// (inside the VM's isp namespace): it answers every POST with 204 and prints
// its body as one line, so a bench scenario counts the events that arrived.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "198.51.100.10:8090", "listen address")
	flag.Parse()
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || r.Method != http.MethodPost || !json.Valid(body) {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		var line bytes.Buffer
		if err := json.Compact(&line, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		line.WriteByte('\n')
		mu.Lock()
		_, _ = os.Stdout.Write(line.Bytes())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	log.Printf("webhookd: listening on %s", *listen)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
