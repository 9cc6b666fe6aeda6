// Boost.JSON, compiled once for the whole server (its header-only mode needs exactly one
// translation unit to include the implementation).
#include <boost/json/src.hpp>
