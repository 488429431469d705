// The one translation unit that compiles Asio, Asio.SSL and Beast (separate compilation),
// so that no other file pays for their implementation templates.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
