#!/usr/bin/env bash
# tests/e2e_grad_torch.sh: runs tests/e2e_grad_torch.py on the lpcert binary given by ctest (77:
# skipped), with the first python3 that can import torch, numpy and mpmath (Debian's python3-torch
# is for /usr/bin/python3, which another python3 earlier on PATH would not see).
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c "import torch, numpy, mpmath" 2>/dev/null; then
    exec "$py" "$(dirname "$0")/e2e_grad_torch.py" "$1"
  fi
done
exec python3 "$(dirname "$0")/e2e_grad_torch.py" "$1"
