// How the delivery and heartbeat loops reach the server: the HTTPS client in production, a fake in the
// loops' unit tests. Only the calls the loops make, so a test needs no sockets.
#pragma once

#include <functional>
#include <string>

#include "agent/http/client.h"

namespace opescare::delivery {

struct Transport {
  // Sends one request; done runs later on the network thread (never inside send), exactly once. The
  // request's on_sent, when set, runs at most once before it, also later on the network thread.
  std::function<void(http::Request, std::function<void(http::Outcome)>)> send;
  // Fails the queued requests and the one in flight with kClosed.
  std::function<void()> close;
  std::string base_url;  // "https://host:port/base", for messages
};

// The client's Send/Close; the client must outlive every copy of the transport.
inline Transport ClientTransport(http::Client& client) {
  Transport t;
  t.send = [&client](http::Request request, std::function<void(http::Outcome)> done) {
    client.Send(std::move(request), std::move(done));
  };
  t.close = [&client] { client.Close(); };
  t.base_url = client.base_url();
  return t;
}

}  // namespace opescare::delivery
