#include "slascan.h"
