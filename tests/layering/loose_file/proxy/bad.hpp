#pragma once
// An engine file outside every room: refused.
