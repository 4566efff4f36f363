// std::visit over a variant with one lambda per alternative.
#pragma once

namespace udpchat::core {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace udpchat::core
