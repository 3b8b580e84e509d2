"""`pods`: resolve what each pod's pod.yaml asks for into an exact, hash-pinned pod.lock.json.

The contract (pod.yaml and pod.lock.json) is docs/lockfile.md. It also plans CI (`affected`,
`ci-matrix`: which pods a change affects) and draws the family chart (`graph`).
"""
