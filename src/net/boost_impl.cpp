// The one translation unit that compiles Boost.Asio, Boost.Beast (with SSL) and
// Boost.URL; everything else includes only their declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/url/src.hpp>
