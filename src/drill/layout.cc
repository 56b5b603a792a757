// Placeholder until the drill library lands.
namespace steen::drill {}
