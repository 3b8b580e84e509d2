def resolve(request):
    return None
