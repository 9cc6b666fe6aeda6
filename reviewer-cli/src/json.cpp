// Boost.JSON, compiled once for tipline-review (its header-only mode needs exactly one
// translation unit to include the implementation).
#include <boost/json/src.hpp>
