"""Write a minimal pure-Python wheel of one package: ``wheel.py PACKAGE VERSION OUTDIR``.

(A real project runs ``python -m build``; this keeps the example free of network and build tools.)
"""

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

package, version, outdir = sys.argv[1:4]
info = f"{package}-{version}.dist-info"
files = {f"{package}/{p.name}": p.read_bytes() for p in sorted(Path(package).glob("*.py"))}
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode()
files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
record = [
    f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
    for name, data in files.items()
]
files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
Path(outdir).mkdir(exist_ok=True)
target = Path(outdir) / f"{package}-{version}-py3-none-any.whl"
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:
    for name, data in files.items():
        whl.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
print(f"wrote {target}")
