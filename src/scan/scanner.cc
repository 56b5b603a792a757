// Placeholder until the scanner lands.
namespace steen::scan {}
