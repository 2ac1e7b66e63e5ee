// typenet/exec/reference.hpp: exec::reference, the oracle policy. The code is in exec/reference/policy.hpp
// (one program for chains and graphs: the lowered network walked one operation at a time).
#pragma once
#include "reference/policy.hpp"
