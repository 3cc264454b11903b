#include "sla.h"
